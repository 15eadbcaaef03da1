"""The simulated organisation's conversations, deterministic from a seed.

Only compact arrays are held in memory: start, planned end, media type, and the
dimensions that query filters read (queue, agent, wrap-up code, direction,
abandonment), 21 bytes a conversation. Every other fact and the full record are
derived on demand from the seed and the conversation's index with its own
`random.Random`, so a million conversations cost a few tens of megabytes, any
record can be rebuilt alone, and a filter reads arrays instead of records.

Conversations exist only once they have started: with `now` before `end`, the
data stops at `now`.

A conversation's timeline is a chain of phases: IVR, queue (ACD), alert, talk,
hold, talk, after-call work. Phases of zero length are skipped. A conversation whose
planned end lies after `now` is ongoing: it has no `conversationEnd`, segments
starting after `now` are left out, the segment holding `now` has no `segmentEnd`,
and only metrics emitted by `now` are present. `ConversationFacts` reports exactly
what the record's metrics say.
"""

from __future__ import annotations

import bisect
import math
import random
import uuid
from array import array
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from genesys_async.simulator._records import Names, Timeline, build_record, format_ms

__all__ = [
    "FLAG_ABANDONED",
    "FLAG_ORIGIN_OUTBOUND",
    "FLAG_OUTBOUND",
    "FLAG_QUEUED",
    "MEDIA_TYPES",
    "CatalogueEntry",
    "ConversationFacts",
    "Dataset",
    "Queue",
    "format_ms",
]

MEDIA_TYPES: tuple[str, ...] = ("voice", "chat", "email", "message", "callback")

# Bits of a conversation's flags code (see `Dataset.codes`).
FLAG_OUTBOUND = 1  # direction outbound: an agent dialled (outbound, callback)
FLAG_ORIGIN_OUTBOUND = 2  # originatingDirection outbound
FLAG_ABANDONED = 4  # the customer hangs up in queue (planned, not clipped at now)
FLAG_QUEUED = 8  # waits in an ACD queue: inbound conversations and callbacks

_MASK = (1 << 64) - 1
_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# Share of conversations per media type, in MEDIA_TYPES order.
_MEDIA_WEIGHTS = (0.55, 0.15, 0.10, 0.12, 0.08)
# Planned duration per media type: (median ms, log-logistic shape, min ms, max ms).
# A low shape gives a long tail: some emails and messages stay open for days.
_DURATIONS = (
    (300_000, 2.5, 8_000, 4 * _HOUR_MS),
    (720_000, 2.5, 20_000, 6 * _HOUR_MS),
    (2 * _HOUR_MS, 1.2, 60_000, 4 * _DAY_MS),
    (1_800_000, 1.3, 30_000, 2 * _DAY_MS),
    (360_000, 2.5, 10_000, 3 * _HOUR_MS),
)
# Relative traffic per UTC hour of the day: a working-day curve with quiet nights.
_HOUR_WEIGHTS = (
    0.10, 0.07, 0.05, 0.05, 0.06, 0.10, 0.25, 0.55, 0.90, 1.00, 1.00, 0.95,
    0.85, 0.95, 1.00, 0.95, 0.85, 0.70, 0.50, 0.40, 0.30, 0.22, 0.17, 0.13,
)  # fmt: skip
# Relative traffic per weekday, Monday first.
_WEEKDAY_WEIGHTS = (1.0, 0.95, 0.95, 0.9, 0.85, 0.4, 0.25)
# Busy days (an outage, a marketing campaign) get this many times their usual traffic.
_BUSY_FACTOR = 6.0
# Chance that an inbound conversation is abandoned in queue, per media type.
_ABANDON_RATE = (0.08, 0.05, 0.01, 0.03, 0.0)
# Chance that a conversation is outbound (agent-initiated), per media type.
_OUTBOUND_RATE = (0.2, 0.0, 0.3, 0.1, 0.0)

_DIVISIONS = ("Home", "Customer Care", "Sales")
# (name, division index, media types served)
_QUEUES = (
    ("Support - Voice", 1, ("voice", "callback")),
    ("Support - Digital", 1, ("chat", "message")),
    ("Support - Email", 1, ("email",)),
    ("Billing", 0, MEDIA_TYPES),
    ("Technical Escalations", 1, ("voice", "email")),
    ("Sales - Voice", 2, ("voice", "callback")),
    ("Sales - Digital", 2, ("chat", "message", "email")),
    ("Retention", 2, ("voice", "callback", "chat")),
)
_WRAP_UP_CODES = (
    "Resolved",
    "Follow-up required",
    "Escalated",
    "Billing question",
    "Sale",
    "No sale",
    "Information provided",
    "Complaint",
    "Callback scheduled",
    "Wrong number",
)
_FIRST_NAMES = (
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
    "Kira", "Liam", "Maya", "Nils", "Olga", "Pablo", "Quinn", "Rosa", "Sami", "Tara",
)  # fmt: skip
_LAST_NAMES = (
    "Andersen", "Baptiste", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia",
    "Hughes", "Ivanova", "Jensen", "Kowalski", "Lambert", "Moreau", "Novak",
)  # fmt: skip
_AGENTS_PER_DIVISION = 16


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One named object of the organisation: a division, user or wrap-up code."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Queue:
    """One ACD queue: its id, name, owning division and the media types it serves."""

    id: str
    name: str
    division_id: str
    media_types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConversationFacts:
    """What one conversation's record says, without building the record.

    Durations are milliseconds and count only phases finished by the dataset's
    `now`, exactly as the record's session metrics do; a phase that did not happen
    (or has not finished) counts 0. `end_ms`, `user_id` and `wrap_up_code` are None
    when the conversation is ongoing, has no agent yet, or has no wrap-up.
    `queued` is True for conversations that wait in an ACD queue (inbound ones
    and callbacks), which therefore have an ACD participant.
    """

    index: int
    conversation_id: str
    start_ms: int
    end_ms: int | None
    media_type: str
    direction: str
    originating_direction: str
    queued: bool
    queue_id: str
    division_id: str
    user_id: str | None
    wrap_up_code: str | None
    offered: bool
    answered: bool
    abandoned: bool
    ivr_ms: int
    wait_ms: int
    alert_ms: int
    talk_ms: int
    held_ms: int
    acw_ms: int
    handle_ms: int
    answered_ms: int
    abandon_ms: int
    mos: float | None

    @property
    def ongoing(self) -> bool:
        """True when the conversation has no `conversationEnd` yet."""
        return self.end_ms is None


@dataclass(frozen=True, slots=True)
class _Plan:
    """The planned timeline of one conversation, before clipping at `now`."""

    direction: str
    originating_direction: str
    queued: bool
    queue: int
    agent: int
    wrap_up: int
    abandoned: bool
    # Phase lengths in ms, in timeline order: ivr, wait, alert, talk1, hold, talk2, acw.
    phases: tuple[int, int, int, int, int, int, int]
    mos: float


def _splitmix(x: int) -> int:
    """One round of splitmix64: a cheap, well-mixed 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _mix(*parts: int) -> int:
    """Hash integers into one 64-bit value (stable across runs, unlike `hash`)."""
    h = 0
    for part in parts:
        h = _splitmix(h ^ (part & _MASK))
    return h


def _uuid(high: int, low: int) -> str:
    """A version-4-looking UUID string from two 64-bit values."""
    return str(uuid.UUID(int=(high << 64) | low, version=4))


def _to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware (UTC)")
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _apportion(total: int, weights: list[float]) -> list[int]:
    """Split `total` into integer counts proportional to weights (largest remainder)."""
    weight_sum = sum(weights)
    if weight_sum <= 0:
        weights, weight_sum = [1.0] * len(weights), float(len(weights))
    exact = [total * w / weight_sum for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda k: counts[k] - exact[k])
    for k in by_remainder[: total - sum(counts)]:
        counts[k] += 1
    return counts


class Dataset:
    """A deterministic set of conversations spread over `[start, end)`.

    Args:
        seed: any integer; the same seed and arguments give the same conversations.
        start: aware datetime, the earliest possible conversationStart.
        end: aware datetime, after the last conversationStart.
        conversations: how many conversations to create.
        now: aware datetime, the simulated present; conversations planned to end
            after it are ongoing, and those planned to start at or after it do
            not exist yet (so `len` is below `conversations`). None means `end`.
    """

    def __init__(
        self,
        *,
        seed: int,
        start: datetime,
        end: datetime,
        conversations: int,
        now: datetime | None = None,
    ) -> None:
        if conversations < 0:
            raise ValueError("conversations must be >= 0")
        self.seed = seed
        self.start = start
        self.end = end
        self.now = end if now is None else now
        self.start_of_data_ms = _to_ms(start)
        self.end_of_data_ms = _to_ms(end)
        self.now_ms = _to_ms(self.now)
        if self.end_of_data_ms <= self.start_of_data_ms:
            raise ValueError("end must be after start")
        self._build_catalogue()

        rng = random.Random(_mix(seed, 0x5EED))
        self.busy_days = self._pick_busy_days(rng)
        # The arrays below are the whole per-conversation state: 21 bytes each.
        self._starts = array("q")
        self._ends = array("q")
        self._media = array("B")
        self._generate(rng, conversations)
        # Conversations that have not started by `now` do not exist yet; cut
        # after generating so that moving `now` keeps the earlier ones as they are.
        kept = bisect.bisect_left(self._starts, self.now_ms)
        del self._starts[kept:], self._ends[kept:], self._media[kept:]
        # Queue, agent and wrap-up code (catalogue indices) and FLAG_* bits.
        self._queue = bytearray()
        self._agent = bytearray()
        self._wrap_up = bytearray()
        self._flags = bytearray()
        self._draw_dimensions()

    # -- catalogue ---------------------------------------------------------------

    def _build_catalogue(self) -> None:
        rng = random.Random(_mix(self.seed, 0xCA7A))

        def new_id() -> str:
            return _uuid(rng.getrandbits(64), rng.getrandbits(64))

        self.divisions = tuple(CatalogueEntry(new_id(), name) for name in _DIVISIONS)
        self.queues = tuple(
            Queue(new_id(), name, self.divisions[div].id, media)
            for name, div, media in _QUEUES
        )
        self.wrap_up_codes = tuple(
            CatalogueEntry(new_id(), name) for name in _WRAP_UP_CODES
        )
        users = []
        self._user_division: list[int] = []
        for k in range(_AGENTS_PER_DIVISION * len(self.divisions)):
            first = _FIRST_NAMES[k % len(_FIRST_NAMES)]
            last = _LAST_NAMES[(k * 7 + 3) % len(_LAST_NAMES)]
            users.append(CatalogueEntry(new_id(), f"{first} {last}"))
            self._user_division.append(k % len(self.divisions))
        self.users = tuple(users)
        self._queues_by_media = {
            media: [
                q for q, queue in enumerate(self.queues) if media in queue.media_types
            ]
            for media in MEDIA_TYPES
        }
        self._agents_by_division = [
            [u for u, d in enumerate(self._user_division) if d == div]
            for div in range(len(self.divisions))
        ]
        self._division_index = {d.id: k for k, d in enumerate(self.divisions)}

    # -- construction ------------------------------------------------------------

    def _pick_busy_days(self, rng: random.Random) -> frozenset[int]:
        """UTC day numbers (days since epoch) that get `_BUSY_FACTOR` traffic."""
        first_day = self.start_of_data_ms // _DAY_MS
        last_day = (self.end_of_data_ms - 1) // _DAY_MS
        days = list(range(first_day, last_day + 1))
        weekdays = [d for d in days if (d + 3) % 7 < 5] or days
        wanted = max(1, len(days) // 30)
        return frozenset(rng.sample(weekdays, min(wanted, len(weekdays))))

    def _bucket_weight(self, bucket_start: int, bucket_len: int) -> float:
        day = bucket_start // _DAY_MS
        weight = _HOUR_WEIGHTS[(bucket_start % _DAY_MS) // _HOUR_MS]
        # 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays.
        weight *= _WEEKDAY_WEIGHTS[(day + 3) % 7]
        if day in self.busy_days:
            weight *= _BUSY_FACTOR
        return weight * bucket_len / _HOUR_MS

    def _generate(self, rng: random.Random, conversations: int) -> None:
        # Buckets are UTC hours, clipped to [start, end).
        bounds = []
        edge = self.start_of_data_ms
        while edge < self.end_of_data_ms:
            nxt = min((edge // _HOUR_MS + 1) * _HOUR_MS, self.end_of_data_ms)
            bounds.append((edge, nxt - edge))
            edge = nxt
        weights = [self._bucket_weight(b, n) for b, n in bounds]
        counts = _apportion(conversations, weights)

        cumulative = list(_MEDIA_WEIGHTS)
        for k in range(1, len(cumulative)):
            cumulative[k] += cumulative[k - 1]
        uniform = rng.random
        for (bucket_start, bucket_len), count in zip(bounds, counts, strict=True):
            offsets = sorted(int(uniform() * bucket_len) for _ in range(count))
            starts = [bucket_start + o for o in offsets]
            media = [
                min(bisect.bisect(cumulative, uniform() * cumulative[-1]), 4)
                for _ in range(count)
            ]
            self._starts.extend(starts)
            self._media.extend(media)
            self._ends.extend(
                s + self._duration(m, uniform())
                for s, m in zip(starts, media, strict=True)
            )

    def _draw_dimensions(self) -> None:
        """Draw each conversation's filterable dimensions into byte arrays.

        Drawn in bulk from their own generator (not per conversation) so that
        a million take about a second, and independent of the start times.
        """
        uniform = random.Random(_mix(self.seed, 0xD1A5)).random
        queue_choices = [self._queues_by_media[m] for m in MEDIA_TYPES]
        agent_choices = [
            self._agents_by_division[self._division_index[q.division_id]]
            for q in self.queues
        ]
        wrap_ups = len(self.wrap_up_codes)
        callback = MEDIA_TYPES.index("callback")
        queue_out, agent_out = self._queue, self._agent
        wrap_out, flags_out = self._wrap_up, self._flags
        for media in self._media:
            choices = queue_choices[media]
            queue = choices[int(uniform() * len(choices))]
            agents = agent_choices[queue]
            queue_out.append(queue)
            agent_out.append(agents[int(uniform() * len(agents))])
            wrap_out.append(int(uniform() * wrap_ups))
            if media == callback:
                # The customer asked for it (inbound origin) and waited in a
                # queue; the agent offered it dials out.
                flags = FLAG_OUTBOUND | FLAG_QUEUED
            elif uniform() < _OUTBOUND_RATE[media]:
                flags = FLAG_OUTBOUND | FLAG_ORIGIN_OUTBOUND
            else:
                flags = FLAG_QUEUED
            if flags & FLAG_QUEUED and uniform() < _ABANDON_RATE[media]:
                flags |= FLAG_ABANDONED
            flags_out.append(flags)

    @staticmethod
    def _duration(media: int, u: float) -> int:
        """Planned duration in ms from a uniform draw (log-logistic, clamped)."""
        median, shape, low, high = _DURATIONS[media]
        u = min(max(u, 1e-9), 1 - 1e-9)
        return int(min(max(median * (u / (1 - u)) ** (1 / shape), low), high))

    # -- the interface -----------------------------------------------------------

    def __len__(self) -> int:
        return len(self._starts)

    def start_ms(self, i: int) -> int:
        """conversationStart of conversation `i`, epoch ms (ascending in `i`)."""
        return self._starts[i]

    def end_ms(self, i: int) -> int | None:
        """conversationEnd of conversation `i`, epoch ms; None while ongoing."""
        end = self._ends[i]
        return None if end > self.now_ms else end

    def planned_end_ms(self, i: int) -> int:
        """When conversation `i` ends or will end, epoch ms, even if after `now`."""
        return self._ends[i]

    def media_type(self, i: int) -> str:
        """mediaType of conversation `i` (cheap: stored, not derived)."""
        return MEDIA_TYPES[self._media[i]]

    def codes(self, column: str, low: int, high: int) -> bytes:
        """Stored codes of conversations [low, high) for fast filtering.

        Args:
            column: "media" (MEDIA_TYPES index), "queue", "agent", "wrap_up"
                (indices into `queues`, `users`, `wrap_up_codes`) or "flags"
                (FLAG_* bits). Agent and wrap-up code are the planned ones: an
                abandoned or ongoing conversation may not have them yet.
            low: first conversation index.
            high: after the last conversation index.
        """
        stored = {
            "media": self._media,
            "queue": self._queue,
            "agent": self._agent,
            "wrap_up": self._wrap_up,
            "flags": self._flags,
        }[column]
        return bytes(stored[low:high])

    def ongoing_in(self, low: int, high: int) -> list[int]:
        """Indices in [low, high) of conversations still running at `now`."""
        now = self.now_ms
        return [low + k for k, end in enumerate(self._ends[low:high]) if end > now]

    def index_range(self, start_ms: int, end_ms: int) -> range:
        """Indices of conversations whose start lies in [start_ms, end_ms)."""
        low = bisect.bisect_left(self._starts, start_ms)
        high = bisect.bisect_left(self._starts, end_ms)
        return range(low, max(low, high))

    def conversation_id(self, i: int) -> str:
        """conversationId of conversation `i`: a stable UUID from the seed and index."""
        return _uuid(_mix(self.seed, i, 1), _mix(self.seed, i, 2))

    def _rng(self, i: int) -> random.Random:
        return random.Random(_mix(self.seed, i, 3))

    def _plan(self, i: int, rng: random.Random) -> _Plan:
        """Draw the planned timeline of conversation `i` from its own generator."""
        media = self._media[i]
        flags = self._flags[i]
        direction = "outbound" if flags & FLAG_OUTBOUND else "inbound"
        origin = "outbound" if flags & FLAG_ORIGIN_OUTBOUND else "inbound"
        queued = bool(flags & FLAG_QUEUED)
        queue, agent, wrap_up = self._queue[i], self._agent[i], self._wrap_up[i]
        abandoned = bool(flags & FLAG_ABANDONED)
        ivr = media == 0 and direction == "inbound" and rng.random() < 0.7
        held = rng.random() < 0.3
        mos = round(rng.uniform(3.2, 4.9), 2)

        if abandoned:
            raw = [rng.uniform(0.1, 0.4) if ivr else 0.0, 1.0, 0, 0, 0, 0, 0]
        elif not queued:
            raw = [0, 0, rng.uniform(0.02, 0.1), 1.0, 0, 0, rng.uniform(0.05, 0.2)]
        else:
            talk = rng.uniform(0.4, 1.0)
            split = rng.uniform(0.2, 0.8)
            raw = [
                rng.uniform(0.03, 0.12) if ivr else 0.0,
                rng.uniform(0.02, 0.3),
                rng.uniform(0.01, 0.05),
                talk * split,
                rng.uniform(0.05, 0.2) if held else 0.0,
                talk * (1 - split),
                rng.uniform(0.03, 0.15),
            ]
        duration = self._ends[i] - self._starts[i]
        phases = _split(duration, raw)
        return _Plan(
            direction, origin, queued, queue, agent, wrap_up, abandoned, phases, mos
        )

    def facts(self, i: int) -> ConversationFacts:
        """What conversation `i`'s record says, without building the record."""
        plan = self._plan(i, self._rng(i))
        return self._facts_from_plan(i, plan)

    def timeline(self, i: int) -> tuple[ConversationFacts, Timeline]:
        """Facts and the planned phase timeline of conversation `i`.

        The timeline is not cut at `now`: callers that need what was emitted
        by then (aggregates) compare its instants with `now_ms` themselves.
        """
        plan = self._plan(i, self._rng(i))
        return self._facts_from_plan(i, plan), Timeline.of(self._starts[i], plan.phases)

    def _facts_from_plan(self, i: int, plan: _Plan) -> ConversationFacts:
        now = self.now_ms
        t = Timeline.of(self._starts[i], plan.phases)
        ivr, wait, alert, talk1, hold, talk2, acw = plan.phases
        queue_at, alert_at, talk_at, end = t.queue_at, t.alert_at, t.talk_at, t.end
        talk_end = t.talk_end

        def done(length: int, finished_at: int) -> int:
            return length if finished_at <= now else 0

        queued = plan.queued
        offered = queued and queue_at <= now
        answered = not plan.abandoned and talk_at <= now
        abandoned = plan.abandoned and alert_at <= now
        talk = done(talk1 + talk2, talk_end) if answered else 0
        held = done(hold, t.resume_at) if answered else 0
        after = done(acw, end) if answered else 0
        handle = talk + held + after if end <= now and answered else 0
        queue = self.queues[plan.queue]
        return ConversationFacts(
            index=i,
            conversation_id=self.conversation_id(i),
            start_ms=t.start,
            end_ms=self.end_ms(i),
            media_type=MEDIA_TYPES[self._media[i]],
            direction=plan.direction,
            originating_direction=plan.originating_direction,
            queued=queued,
            queue_id=queue.id,
            division_id=queue.division_id,
            user_id=(
                self.users[plan.agent].id
                if not plan.abandoned and alert_at < now
                else None
            ),
            wrap_up_code=(
                self.wrap_up_codes[plan.wrap_up].id
                if not plan.abandoned and end <= now
                else None
            ),
            offered=offered,
            answered=answered,
            abandoned=abandoned,
            ivr_ms=done(ivr, queue_at) if ivr else 0,
            wait_ms=done(wait, alert_at) if queued else 0,
            alert_ms=done(alert, talk_at) if not plan.abandoned else 0,
            talk_ms=talk,
            held_ms=held,
            acw_ms=after,
            handle_ms=handle,
            answered_ms=wait + alert if answered and queued else 0,
            abandon_ms=wait if abandoned else 0,
            mos=plan.mos
            if MEDIA_TYPES[self._media[i]] == "voice" and answered
            else None,
        )

    def record(self, i: int) -> dict[str, Any]:
        """The full conversation record of conversation `i`, as the API serves it."""
        rng = self._rng(i)
        plan = self._plan(i, rng)
        facts = self._facts_from_plan(i, plan)
        timeline = Timeline.of(facts.start_ms, plan.phases)
        names = Names(self.queues[plan.queue].name, self.users[plan.agent].name)
        return build_record(facts, timeline, plan.abandoned, names, self.now_ms, rng)


def _split(total: int, raw: list[float]) -> tuple[int, int, int, int, int, int, int]:
    """Integer parts of `total` proportional to `raw`, summing to `total` exactly."""
    # Summed by hand, in the same order as below, so the last edge is exactly `total`.
    weight = 0.0
    for w in raw:
        weight += w
    parts = []
    acc = 0.0
    given = 0
    for w in raw:
        acc += w
        edge = math.floor(total * acc / weight) if weight else 0
        parts.append(edge - given)
        given = edge
    parts[-1] += total - given
    a, b, c, d, e, f, g = parts
    return a, b, c, d, e, f, g

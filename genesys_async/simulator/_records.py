"""Build one conversation record (participants, sessions, segments, metrics)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genesys_async.simulator._data import ConversationFacts

_EPOCH_DATE = date(1970, 1, 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def format_ms(ms: int) -> str:
    """ISO-8601 UTC with milliseconds and a Z, as Genesys writes timestamps."""
    # Arithmetic and one f-string: strftime was 40% of building a record.
    days, in_day = divmod(ms, 86_400_000)
    day = _EPOCH_DATE + timedelta(days=days)
    seconds, millis = divmod(in_day, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return (
        f"{day.year:04d}-{day.month:02d}-{day.day:02d}"
        f"T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"
    )


@dataclass(frozen=True, slots=True)
class Timeline:
    """Absolute phase boundaries of one conversation, epoch ms, before clipping.

    start -> IVR -> queue_at -> wait -> alert_at -> alert -> talk_at -> talk ->
    hold_at -> hold -> resume_at -> talk -> talk_end -> after-call work -> end.
    """

    start: int
    queue_at: int
    alert_at: int
    talk_at: int
    hold_at: int
    resume_at: int
    talk_end: int
    end: int

    @classmethod
    def of(cls, start: int, phases: tuple[int, ...]) -> Timeline:
        """Chain the phase lengths (ms, timeline order) from `start`."""
        edges = [start]
        for length in phases:
            edges.append(edges[-1] + length)
        _, queue_at, alert_at, talk_at, hold_at, resume_at, talk_end, end = edges
        return cls(
            start, queue_at, alert_at, talk_at, hold_at, resume_at, talk_end, end
        )


@dataclass(frozen=True, slots=True)
class Names:
    """Display names the record needs besides the ids in the facts."""

    queue: str
    agent: str


def _random_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class _Session:
    """Collects one session's segments and metrics, clipped at `now`."""

    def __init__(self, rng: random.Random, now: int, **header: Any) -> None:
        self.now = now
        self.body: dict[str, Any] = {"sessionId": _random_id(rng)}
        self.body.update({k: v for k, v in header.items() if v is not None})
        self.segments: list[dict[str, Any]] = []
        self.metrics: list[dict[str, Any]] = []
        # Set once a segment runs past `now`: nothing may follow an unfinished one.
        self.open = False

    def segment(self, kind: str, start: int, end: int, **extra: Any) -> None:
        """Add a segment unless empty, after `now`, or after an unfinished one."""
        if end <= start or start >= self.now or self.open:
            return
        segment: dict[str, Any] = {"segmentStart": format_ms(start)}
        if end <= self.now:
            segment["segmentEnd"] = format_ms(end)
        else:
            self.open = True
            extra.pop("disconnectType", None)
            extra.pop("wrapUpCode", None)
        segment["segmentType"] = kind
        segment.update({k: v for k, v in extra.items() if v is not None})
        self.segments.append(segment)

    def metric(self, name: str, value: int, emitted: int) -> None:
        """Add a metric (ms or a count) if it has a value and was emitted by `now`."""
        if value > 0 and emitted <= self.now:
            self.metrics.append(
                {"name": name, "value": value, "emitDate": format_ms(emitted)}
            )

    def participant(
        self, rng: random.Random, purpose: str, name: str, **fields: Any
    ) -> dict[str, Any] | None:
        """This session inside its participant; None before its first segment."""
        participant: dict[str, Any] = {
            "participantId": _random_id(rng),
            "participantName": name,
            "purpose": purpose,
        }
        participant.update(fields)
        if not self.segments:
            return None
        if self.metrics:
            self.body["metrics"] = self.metrics
        self.body["segments"] = self.segments
        participant["sessions"] = [self.body]
        return participant


def build_record(
    facts: ConversationFacts,
    timeline: Timeline,
    abandoned: bool,
    names: Names,
    now: int,
    rng: random.Random,
) -> dict[str, Any]:
    """The conversation record as the details query serves it.

    Args:
        facts: the conversation's facts (ids, media, direction, clipped metrics).
        timeline: planned phase boundaries, epoch ms.
        abandoned: whether the customer hangs up in queue (planned, not clipped).
        names: display names of the queue and agent.
        now: the simulated present, epoch ms; later parts are left out.
        rng: the conversation's own generator, for ids and addresses.
    """
    addresses = _addresses(facts, rng)
    parts = [_customer(facts, timeline, abandoned, now, rng, addresses)]
    if timeline.queue_at > timeline.start:
        parts.append(_ivr(facts, timeline, now, rng, addresses))
    if facts.queued:
        parts.append(_acd(facts, timeline, abandoned, names, now, rng))
    if not abandoned:
        parts.append(_agent(facts, timeline, names, now, rng))

    record: dict[str, Any] = {
        "conversationId": facts.conversation_id,
        "conversationStart": format_ms(facts.start_ms),
    }
    if facts.end_ms is not None:
        record["conversationEnd"] = format_ms(facts.end_ms)
    record["originatingDirection"] = facts.originating_direction
    record["divisionIds"] = [facts.division_id]
    if facts.mos is not None:
        record["mediaStatsMinConversationMos"] = facts.mos
    record["participants"] = [p for p in parts if p is not None]
    return record


def _addresses(facts: ConversationFacts, rng: random.Random) -> dict[str, str]:
    """Session address fields (ani/dnis or email addresses) seen from the customer."""
    if facts.media_type in ("voice", "callback"):
        customer = f"tel:+1{rng.randrange(200, 999)}{rng.randrange(10**6, 10**7)}"
        org = "tel:+18005550100"
    elif facts.media_type == "email":
        customer = f"customer{rng.randrange(10**6)}@example.com"
        org = "support@example.org"
    else:
        return {}
    if facts.originating_direction == "inbound":
        caller, called = customer, org
    else:
        caller, called = org, customer
    if facts.media_type == "email":
        return {"addressFrom": caller, "addressTo": called}
    return {"ani": caller, "dnis": called}


def _customer(
    facts: ConversationFacts,
    t: Timeline,
    abandoned: bool,
    now: int,
    rng: random.Random,
    addresses: dict[str, str],
) -> dict[str, Any] | None:
    session = _Session(
        rng, now, mediaType=facts.media_type, direction=facts.direction, **addresses
    )
    queue = facts.queue_id
    if abandoned:
        session.segment("interact", t.start, t.queue_at)
        session.segment(
            "interact", t.queue_at, t.alert_at, queueId=queue, disconnectType="peer"
        )
    else:
        session.segment("interact", t.start, t.queue_at)
        session.segment("interact", t.queue_at, t.alert_at, queueId=queue)
        session.segment("alert", t.alert_at, t.talk_at, queueId=queue)
        session.segment("interact", t.talk_at, t.hold_at, queueId=queue)
        session.segment("hold", t.hold_at, t.resume_at, queueId=queue)
        session.segment(
            "interact", t.resume_at, t.talk_end, queueId=queue, disconnectType="peer"
        )
    return session.participant(rng, "customer", "Customer")


def _ivr(
    facts: ConversationFacts,
    t: Timeline,
    now: int,
    rng: random.Random,
    addresses: dict[str, str],
) -> dict[str, Any] | None:
    session = _Session(
        rng, now, mediaType=facts.media_type, direction="inbound", **addresses
    )
    session.segment("ivr", t.start, t.queue_at, disconnectType="transfer")
    session.metric("tIvr", t.queue_at - t.start, t.queue_at)
    return session.participant(rng, "ivr", "Main IVR")


def _acd(
    facts: ConversationFacts,
    t: Timeline,
    abandoned: bool,
    names: Names,
    now: int,
    rng: random.Random,
) -> dict[str, Any] | None:
    session = _Session(rng, now, mediaType=facts.media_type, direction="inbound")
    session.segment(
        "interact",
        t.queue_at,
        t.alert_at,
        queueId=facts.queue_id,
        disconnectType="peer" if abandoned else "transfer",
    )
    session.metric("nOffered", 1, t.queue_at)
    session.metric("tAcd", t.alert_at - t.queue_at, t.alert_at)
    if abandoned:
        session.metric("tAbandon", t.alert_at - t.queue_at, t.alert_at)
    return session.participant(rng, "acd", names.queue)


def _agent(
    facts: ConversationFacts,
    t: Timeline,
    names: Names,
    now: int,
    rng: random.Random,
) -> dict[str, Any] | None:
    session = _Session(rng, now, mediaType=facts.media_type, direction=facts.direction)
    queue = facts.queue_id
    if facts.media_type == "callback":
        # Offered the callback from the queue, the agent accepts it, then dials.
        dial_at = t.alert_at + (t.talk_at - t.alert_at) // 2
        session.segment("alert", t.alert_at, dial_at, queueId=queue)
        session.segment("dialing", dial_at, t.talk_at, queueId=queue)
    else:
        kind = "alert" if facts.queued else "dialing"
        session.segment(kind, t.alert_at, t.talk_at, queueId=queue)
    session.segment("interact", t.talk_at, t.hold_at, queueId=queue)
    session.segment("hold", t.hold_at, t.resume_at, queueId=queue)
    session.segment(
        "interact", t.resume_at, t.talk_end, queueId=queue, disconnectType="client"
    )
    wrap_up = facts.wrap_up_code
    session.segment("wrapup", t.talk_end, t.end, queueId=queue, wrapUpCode=wrap_up)

    talk = (t.hold_at - t.talk_at) + (t.talk_end - t.resume_at)
    held = t.resume_at - t.hold_at
    acw = t.end - t.talk_end
    session.metric("tAlert", t.talk_at - t.alert_at, t.talk_at)
    if facts.queued:
        session.metric("tAnswered", t.talk_at - t.queue_at, t.talk_at)
    session.metric("nConnected", 1, t.talk_at)
    session.metric("tTalk", talk, t.talk_end)
    session.metric("tHeld", held, t.resume_at)
    session.metric("tAcw", acw, t.end)
    session.metric("tHandle", talk + held + acw, t.end)
    return session.participant(rng, "agent", names.agent, userId=facts.user_id)

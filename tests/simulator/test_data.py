"""The dataset: determinism, realism, facts agreeing with records, scale."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from genesys_async.simulator import Dataset

START = datetime(2026, 9, 1, tzinfo=timezone.utc)
DAY_MS = 86_400_000


def small(seed: int = 3, **kwargs: object) -> Dataset:
    args: dict[str, object] = {
        "seed": seed,
        "start": START,
        "end": START + timedelta(days=14),
        "conversations": 3000,
    }
    args.update(kwargs)
    return Dataset(**args)  # type: ignore[arg-type]


def metric_sum(record: dict[str, object], name: str) -> int:
    total = 0
    for participant in record["participants"]:  # type: ignore[attr-defined]
        for session in participant["sessions"]:
            for metric in session.get("metrics", []):
                if metric["name"] == name:
                    total += metric["value"]
    return total


def test_same_seed_gives_same_records() -> None:
    first, second = small(seed=11), small(seed=11)

    expected = [first.record(i) for i in range(0, 3000, 97)]
    actual = [second.record(i) for i in range(0, 3000, 97)]

    assert expected == actual


def test_different_seeds_give_different_conversations() -> None:
    first, second = small(seed=1), small(seed=2)

    assert first.conversation_id(0) != second.conversation_id(0)


def test_starts_are_sorted_and_inside_the_range() -> None:
    data = small()

    starts = [data.start_ms(i) for i in range(len(data))]

    assert starts == sorted(starts)
    assert data.start_of_data_ms <= starts[0]
    assert starts[-1] < data.end_of_data_ms
    assert len(data) == 3000


def test_index_range_holds_exactly_the_starts_in_the_half_open_interval() -> None:
    data = small()
    low, high = data.start_ms(100), data.start_ms(200)

    actual = data.index_range(low, high)

    expected = [i for i in range(len(data)) if low <= data.start_ms(i) < high]
    assert expected == list(actual)


def test_facts_agree_with_the_record_metrics_and_dimensions() -> None:
    data = small()
    pairs = {
        "tIvr": "ivr_ms",
        "tAcd": "wait_ms",
        "tAlert": "alert_ms",
        "tTalk": "talk_ms",
        "tHeld": "held_ms",
        "tAcw": "acw_ms",
        "tHandle": "handle_ms",
        "tAnswered": "answered_ms",
        "tAbandon": "abandon_ms",
    }
    mismatches = []

    for i in list(range(0, 3000, 7)) + list(range(2900, 3000)):
        facts, record = data.facts(i), data.record(i)
        for metric, field in pairs.items():
            if metric_sum(record, metric) != getattr(facts, field):
                mismatches.append((i, metric))
        sessions = [s for p in record["participants"] for s in p["sessions"]]
        users = {p.get("userId") for p in record["participants"]} - {None}
        codes = {seg.get("wrapUpCode") for s in sessions for seg in s["segments"]} - {
            None
        }
        if users != ({facts.user_id} - {None}):
            mismatches.append((i, "userId"))
        if codes != ({facts.wrap_up_code} - {None}):
            mismatches.append((i, "wrapUpCode"))
        if {s["mediaType"] for s in sessions} != {facts.media_type}:
            mismatches.append((i, "mediaType"))
        if record["divisionIds"] != [facts.division_id]:
            mismatches.append((i, "divisionId"))
        if ("conversationEnd" in record) != (facts.end_ms is not None):
            mismatches.append((i, "conversationEnd"))

    assert mismatches == []


def test_segments_lie_inside_the_conversation_and_end_in_order() -> None:
    data = small()

    for i in range(0, 3000, 11):
        record = data.record(i)
        start, end = record["conversationStart"], record.get("conversationEnd")
        for participant in record["participants"]:
            segments = participant["sessions"][0]["segments"]
            for seg in segments:
                assert start <= seg["segmentStart"]
                if end is not None:
                    assert seg["segmentEnd"] <= end
            ends = [s.get("segmentEnd") for s in segments]
            assert None not in ends[:-1]


def test_data_has_every_media_type_both_directions_and_busy_days() -> None:
    data = small(conversations=20_000, end=START + timedelta(days=60))
    facts = [data.facts(i) for i in range(0, len(data), 5)]
    per_day = Counter(data.start_ms(i) // DAY_MS for i in range(len(data)))

    media = {f.media_type for f in facts}
    directions = {f.direction for f in facts}
    busiest, typical = max(per_day.values()), sorted(per_day.values())[30]

    assert {"voice", "chat", "email", "message", "callback"} == media
    assert {"inbound", "outbound"} == directions
    assert busiest > 3 * typical
    assert any(f.abandoned for f in facts)
    assert any(f.held_ms for f in facts)


def test_weekends_and_nights_are_quieter_than_weekdays_and_afternoons() -> None:
    data = small(conversations=20_000, end=START + timedelta(days=28))
    hours = Counter((data.start_ms(i) % DAY_MS) // 3_600_000 for i in range(len(data)))
    # 2026-09-01 is a Tuesday; 2026-09-06 a Sunday.
    day_counts = Counter(data.start_ms(i) // DAY_MS for i in range(len(data)))
    sunday = data.start_of_data_ms // DAY_MS + 5
    tuesday = data.start_of_data_ms // DAY_MS + 7

    assert hours[3] * 5 < hours[14]
    assert day_counts[sunday] * 2 < day_counts[tuesday]


def test_some_conversations_cross_utc_midnight() -> None:
    data = small()

    crossing = [
        i
        for i in range(len(data))
        if (end := data.end_ms(i)) is not None
        and end // DAY_MS > data.start_ms(i) // DAY_MS
    ]

    assert len(crossing) > 5


def test_conversations_still_running_at_now_have_no_end_and_open_segments() -> None:
    data = small()

    ongoing = [i for i in range(len(data)) if data.end_ms(i) is None]
    record = data.record(ongoing[-1])
    last_segments = [p["sessions"][0]["segments"][-1] for p in record["participants"]]

    assert 0 < len(ongoing) < 100
    assert "conversationEnd" not in record
    assert any("segmentEnd" not in seg for seg in last_segments)
    assert all(data.planned_end_ms(i) > data.now_ms for i in ongoing)


def test_a_later_now_ends_conversations_that_were_ongoing() -> None:
    data = small()
    later = small(now=START + timedelta(days=20))
    ongoing = [i for i in range(len(data)) if data.end_ms(i) is None]

    assert [i for i in ongoing if later.end_ms(i) is None] == []


def test_ids_look_like_uuids_and_are_unique() -> None:
    data = small()

    ids = [data.conversation_id(i) for i in range(len(data))]

    assert len(ids) == len(set(ids))
    assert all(len(x) == 36 and x[14] == "4" for x in ids)


def test_catalogue_names_every_queue_division_user_and_wrap_up_code() -> None:
    data = small()
    facts = [data.facts(i) for i in range(0, len(data), 13)]

    queue_ids = {q.id for q in data.queues}
    division_ids = {d.id for d in data.divisions}
    user_ids = {u.id for u in data.users}
    code_ids = {c.id for c in data.wrap_up_codes}

    assert all(f.queue_id in queue_ids for f in facts)
    assert all(f.division_id in division_ids for f in facts)
    assert all(f.user_id in user_ids for f in facts if f.user_id)
    assert all(f.wrap_up_code in code_ids for f in facts if f.wrap_up_code)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Dataset(
            seed=1,
            start=datetime(2026, 9, 1),
            end=datetime(2026, 9, 2),
            conversations=10,
        )


_SCALE_SCRIPT = """
import asyncio, base64, json, resource, time
from datetime import datetime, timedelta, timezone
import aiohttp
from genesys_async.simulator import Simulator, SimulatorConfig

def peak_kb():
    # ru_maxrss survives exec on Linux, so it would report the pytest parent's
    # peak; VmHWM belongs to this process's own memory map.
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

async def main():
    start = datetime(2026, 9, 1, tzinfo=timezone.utc)
    config = SimulatorConfig(
        seed=1, start=start, end=start + timedelta(days=90),
        conversations=1_000_000,
    )
    began = time.perf_counter()
    async with Simulator(config) as sim, aiohttp.ClientSession() as http:
        basic = f"{sim.client_id}:{sim.client_secret}".encode()
        async with http.post(
            sim.base_url + "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": "Basic " + base64.b64encode(basic).decode()},
        ) as reply:
            status = reply.status
        elapsed = time.perf_counter() - began
        count = len(sim.dataset)
    print(json.dumps({"seconds": elapsed, "peak_mb": peak_kb() / 1024,
                      "count": count, "status": status}))

asyncio.run(main())
"""


@pytest.mark.slow
def test_a_million_conversation_simulator_serves_within_10_s_under_300_mb() -> None:
    """From `Simulator(...)` to its first answered request, whole-process peak RSS."""
    out = subprocess.run(
        [sys.executable, "-c", _SCALE_SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    result = json.loads(out.stdout)

    assert (result["count"], result["status"]) == (1_000_000, 200)
    assert result["seconds"] < 10, result
    assert result["peak_mb"] < 300, result

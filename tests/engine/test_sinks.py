"""Spools, the manifest and the atomic output."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
import pytest

from genesys_async._errors import ManifestMismatchError, OutputError
from genesys_async._intervals import Interval
from genesys_async._sinks import ChunkSpool, ExportStore

DAY = 86_400_000
WEEK1 = Interval(1_788_220_800_000, 1_788_220_800_000 + 7 * DAY)
WEEK2 = Interval(WEEK1.end_ms, WEEK1.end_ms + 7 * DAY)
PARAMS = {"interval": "a/b", "filters": {}}


def _line(n: int) -> bytes:
    return orjson.dumps({"conversationId": f"c{n}"}) + b"\n"


def _store(tmp_path: Path, **overrides: object) -> ExportStore:
    settings: dict[str, object] = {"fmt": "ndjson", "parameters": PARAMS}
    settings.update(overrides)
    store = ExportStore(tmp_path / "out.ndjson", **settings)  # type: ignore[arg-type]
    store.open()
    return store


def _commit(store: ExportStore, interval: Interval, numbers: list[int]) -> None:
    spool = store.spool(interval)
    # Pages arrive out of order; the part keeps page order.
    for page in reversed(range(len(numbers))):
        spool.add_page(page + 1, _line(numbers[page]), 1)
    store.commit(interval, spool)


@pytest.mark.parametrize(
    "arrival",
    [[1, 2, 3], [3, 1, 2], [2, 1, 3, 2]],
    ids=["in-order", "shuffled", "repeat"],
)
def test_spool_writes_pages_in_page_order(tmp_path: Path, arrival: list[int]) -> None:
    """Whatever order pages arrive in, the part holds them in page order, once."""
    spool = ChunkSpool(tmp_path / "chunk.spool")
    for page in arrival:
        spool.add_page(page, _line(page * 10) + _line(page * 10 + 1), 2)

    count, size = spool.write_ordered(tmp_path / "chunk.ndjson")
    spool.close()

    expected = b"".join(_line(p * 10) + _line(p * 10 + 1) for p in (1, 2, 3))
    assert (tmp_path / "chunk.ndjson").read_bytes() == expected
    assert (count, size) == (6, len(expected))
    assert spool.closed
    assert not (tmp_path / "chunk.spool").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chunk.ndjson"]


def test_output_appears_only_when_finished(tmp_path: Path) -> None:
    """Until finish(), no file stands at the output path."""
    store = _store(tmp_path)
    _commit(store, WEEK2, [3, 4])
    _commit(store, WEEK1, [1, 2])

    assert not store.output.exists()
    total = store.finish({})

    assert total == 4
    assert store.output.read_bytes() == b"".join(_line(n) for n in [1, 2, 3, 4])
    assert not store.parts_dir.exists()


def test_json_format_writes_one_array(tmp_path: Path) -> None:
    """--format json holds the same records as one array."""
    store = _store(tmp_path, fmt="json")
    _commit(store, WEEK1, [1, 2])
    store.finish({})

    assert orjson.loads(store.output.read_bytes()) == [
        {"conversationId": "c1"},
        {"conversationId": "c2"},
    ]


def test_json_array_spans_parts_and_skips_empty_ones(tmp_path: Path) -> None:
    """Commas join records across parts; an empty chunk adds nothing."""
    store = _store(tmp_path, fmt="json")
    _commit(store, WEEK1, [1, 2])
    empty = store.spool(WEEK2)
    store.commit(WEEK2, empty)
    week3 = Interval(WEEK2.end_ms, WEEK2.end_ms + 7 * DAY)
    _commit(store, week3, [3])

    total = store.finish({})

    assert total == 3
    assert orjson.loads(store.output.read_bytes()) == [
        {"conversationId": f"c{n}"} for n in (1, 2, 3)
    ]


def test_empty_json_export_is_an_empty_array(tmp_path: Path) -> None:
    """No records still makes valid JSON."""
    store = _store(tmp_path, fmt="json")
    store.finish({})

    assert orjson.loads(store.output.read_bytes()) == []


def test_reopened_store_keeps_finished_chunks(tmp_path: Path) -> None:
    """A rerun adopts chunks whose parts are on disk as recorded."""
    first = _store(tmp_path)
    _commit(first, WEEK1, [1, 2])

    second = _store(tmp_path)

    assert [c.interval for c in second.finished] == [WEEK1]


def test_torn_manifest_line_is_ignored_and_removed(tmp_path: Path) -> None:
    """kill -9 during an append leaves a torn line; resume drops it."""
    first = _store(tmp_path)
    _commit(first, WEEK1, [1])
    with open(first.manifest_path, "ab") as manifest:
        manifest.write(b'{"chunk": "2026-09-08T00:00:00.000Z/20')

    second = _store(tmp_path)
    _commit(second, WEEK2, [2])
    third = _store(tmp_path)

    assert [c.interval for c in third.finished] == [WEEK1, WEEK2]


def test_part_missing_or_truncated_is_fetched_again(tmp_path: Path) -> None:
    """A part that does not match its manifest line does not count as done."""
    first = _store(tmp_path)
    _commit(first, WEEK1, [1])
    _commit(first, WEEK2, [2])
    part = first.parts_dir / first.finished[1].part
    part.write_bytes(part.read_bytes()[:-3])

    second = _store(tmp_path)

    assert [c.interval for c in second.finished] == [WEEK1]
    assert not part.exists()


def test_manifest_of_other_parameters_is_refused(tmp_path: Path) -> None:
    """Resuming another export's manifest would mix two exports."""
    _store(tmp_path)

    with pytest.raises(ManifestMismatchError, match="interval was"):
        _store(tmp_path, parameters={"interval": "c/d", "filters": {}})


def test_restart_ignores_the_manifest(tmp_path: Path) -> None:
    """--restart starts over with other parameters too."""
    first = _store(tmp_path)
    _commit(first, WEEK1, [1])

    second = _store(tmp_path, parameters={"interval": "c/d"}, restart=True)

    assert second.finished == []
    assert list(second.parts_dir.iterdir()) == []


def test_completed_export_is_reported_complete(tmp_path: Path) -> None:
    """A finished export is recognised, so a rerun fetches nothing."""
    first = _store(tmp_path)
    _commit(first, WEEK1, [1])
    first.finish({"seconds": 1.0})

    second = _store(tmp_path)

    assert second.complete


def test_missing_output_folder_is_a_clear_error(tmp_path: Path) -> None:
    """The error names the folder, before any request is made."""
    store = ExportStore(tmp_path / "nope" / "out.ndjson", "ndjson", PARAMS)

    with pytest.raises(OutputError, match="does not exist"):
        store.open()


def test_output_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    """Writing over a folder is refused up front."""
    store = ExportStore(tmp_path, "ndjson", PARAMS)

    with pytest.raises(OutputError, match="is a folder"):
        store.open()


def test_unwritable_folder_is_a_clear_error() -> None:
    """A folder nobody may write (even root: /proc) fails at open, up front."""
    store = ExportStore(Path("/proc/genesys-async.ndjson"), "ndjson", PARAMS)

    with pytest.raises(OutputError, match="Cannot write /proc/"):
        store.open()


def test_output_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    """The final rename would replace a FIFO (or a device) with a file."""
    fifo = tmp_path / "out.ndjson"
    os.mkfifo(fifo)

    with pytest.raises(OutputError, match="not a regular file"):
        _store(tmp_path)

    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_output_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    """The rename would replace the link, not write its target: refused."""
    target = tmp_path / "target.ndjson"
    target.write_bytes(b"kept\n")
    (tmp_path / "out.ndjson").symlink_to(target)

    with pytest.raises(OutputError, match="symbolic link"):
        _store(tmp_path)

    assert (tmp_path / "out.ndjson").is_symlink()
    assert target.read_bytes() == b"kept\n"


def test_completed_export_whose_output_changed_is_not_complete(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A truncated output is no longer vouched for: the rerun exports again."""
    first = _store(tmp_path)
    _commit(first, WEEK1, [1, 2])
    first.finish({"seconds": 1.0})
    whole = first.output.read_bytes()
    first.output.write_bytes(whole[:-3])

    second = _store(tmp_path)

    assert not second.complete
    assert second.finished == []
    assert "not as the manifest recorded it" in caplog.text

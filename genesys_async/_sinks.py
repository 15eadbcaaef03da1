"""Where records go: chunk spools, the resume manifest, the atomic output file.

An export writes each chunk's pages into a spool file as they arrive, in any
order. When the chunk is whole, its records are copied in page order into a
part file beside the output and a line in the manifest records the part; a
chunk the server refused is dropped with its spool, so nothing of it is ever
written. The output appears only at the end, assembled from the parts into a
temporary file and renamed, so a reader never sees a partial export.

The manifest (``<output>.manifest.jsonl``) is append-only JSON lines: a header
with the export's parameters, one line per finished chunk, a last line when
the output is complete. A line torn by ``kill -9`` is ignored on resume.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import orjson

from ._errors import ManifestMismatchError, OutputError
from ._intervals import Interval, format_ms, parse_instant

__all__ = [
    "ChunkSpool",
    "ExportStore",
    "OutputFormat",
    "read_records",
    "recorded_parameters",
]

OutputFormat = Literal["ndjson", "json"]

logger = logging.getLogger("genesys_async")

_MANIFEST_VERSION = 1
# Bytes per read when copying parts into the output.
_BLOCK = 1 << 20


class ChunkSpool:
    """One chunk's pages on disk, in arrival order, with their page numbers.

    Args:
        path: where the spool lives; it is created empty.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        # page number -> (offset, length, records): where each page's lines
        # lie in the file, since pages arrive in any order.
        self._pages: dict[int, tuple[int, int, int]] = {}
        with _as_output_error(path):
            self._file: IO[bytes] = open(path, "wb")  # noqa: SIM115 (closed in close())
        self._size = 0

    @property
    def closed(self) -> bool:
        """Whether the spool is closed (and its file deleted)."""
        return self._file.closed

    @property
    def records(self) -> int:
        """How many records the spool holds."""
        return sum(count for _, _, count in self._pages.values())

    def add_page(self, page: int, lines: bytes, records: int) -> None:
        """Append one page's NDJSON lines; a page already held is ignored."""
        if page in self._pages:
            return
        with _as_output_error(self.path):
            self._file.write(lines)
        self._pages[page] = (self._size, len(lines), records)
        self._size += len(lines)

    def write_ordered(self, target: Path) -> tuple[int, int]:
        """Put the pages, in page order, into ``target``, durably.

        Pages that arrived in order are the spool itself, which is then
        renamed to ``target`` (and closed); others are copied in page order.

        Returns:
            The number of records and of bytes written.

        Raises:
            OutputError: the disk is full or the folder went away.
        """
        with _as_output_error(target):
            return self._write_ordered(target)

    def _write_ordered(self, target: Path) -> tuple[int, int]:
        pages = sorted(self._pages)
        offsets = [self._pages[page][0] for page in pages]
        if offsets == sorted(offsets):
            # The pages arrived in page order (the usual case): the spool is
            # the part already, so it is made durable and renamed, not copied.
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self.path, target)
            return self.records, self._size

        self._file.flush()
        written = 0
        temporary = target.with_name(target.name + ".tmp")
        with open(self.path, "rb") as source, open(temporary, "wb") as sink:
            for page in pages:
                offset, length, _ = self._pages[page]
                source.seek(offset)
                sink.write(source.read(length))
                written += length
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temporary, target)
        return self.records, written

    def close(self) -> None:
        """Close and delete the spool."""
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@dataclass
class FinishedChunk:
    """A chunk whose part file is complete on disk."""

    interval: Interval
    part: str
    conversations: int
    bytes: int
    # "query" or "jobs": which API fetched it.
    source: str = "query"
    # The data may still change or be partial (fetched past the datalake's
    # dataAvailabilityDate).
    provisional: bool = False


@dataclass
class ExportStore:
    """The output file, its manifest and part files.

    Args:
        output: the final output path.
        fmt: ``ndjson`` (one record a line) or ``json`` (one array).
        parameters: what defines the export (range, filters, API); a manifest
            with other parameters is refused.
        restart: ignore (and replace) any manifest already there.
    """

    output: Path
    fmt: OutputFormat
    parameters: Mapping[str, Any]
    restart: bool = False
    finished: list[FinishedChunk] = field(default_factory=list)
    complete: bool = False

    @property
    def manifest_path(self) -> Path:
        """``<output>.manifest.jsonl``."""
        return _manifest_path(self.output)

    @property
    def parts_dir(self) -> Path:
        """``<output>.parts/``, the finished chunks' files."""
        return self.output.with_name(self.output.name + ".parts")

    def open(self) -> None:
        """Check the output can be written, then load or start the manifest.

        Raises:
            OutputError: the output's folder is missing or not writable, or the
                output path is a symlink or exists and is not a regular file.
            ManifestMismatchError: a manifest for different parameters is there.
        """
        self._check_writable()
        records = [] if self.restart else _read_lines(self.manifest_path)
        if records:
            self._adopt(records)
        else:
            self._start_fresh()

    def spool(self, interval: Interval) -> ChunkSpool:
        """A new spool for a chunk, in the parts folder."""
        return ChunkSpool(self.parts_dir / (_part_name(interval) + ".spool"))

    def commit(
        self,
        interval: Interval,
        spool: ChunkSpool,
        *,
        source: str = "query",
        provisional: bool = False,
    ) -> FinishedChunk:
        """Make a whole chunk's part durable and record it in the manifest.

        Args:
            interval: the chunk.
            spool: its records.
            source: which API fetched it, "query" or "jobs".
            provisional: its data may still change or be partial.
        """
        name = _part_name(interval) + ".ndjson"
        count, size = spool.write_ordered(self.parts_dir / name)
        spool.close()
        chunk = FinishedChunk(interval, name, count, size, source, provisional)
        line: dict[str, Any] = {
            "chunk": str(interval),
            "part": name,
            "conversations": count,
            "bytes": size,
        }
        # Only jobs-aware exports write these, so query manifests stay as they were.
        if source != "query" or provisional:
            line.update(source=source, provisional=provisional)
        self._append(line)
        self.finished.append(chunk)
        return chunk

    def finish(self, extra: Mapping[str, Any]) -> int:
        """Assemble the parts, in time order, into the output; atomically.

        Args:
            extra: facts for the manifest's closing line (the report).

        Returns:
            The number of records in the output.
        """
        ordered = sorted(self.finished, key=lambda chunk: chunk.interval)
        total = sum(chunk.conversations for chunk in ordered)
        temporary = self.output.with_name(self.output.name + ".tmp")
        try:
            with open(temporary, "wb") as sink:
                parts = (self.parts_dir / chunk.part for chunk in ordered)
                _assemble(sink, self.fmt, parts)
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(temporary, self.output)
            size = self.output.stat().st_size
        except OSError as exc:
            raise OutputError(str(self.output), exc.strerror or str(exc)) from exc
        closing = {**extra, "complete": True, "conversations": total}
        self._append({**closing, "output_bytes": size})
        shutil.rmtree(self.parts_dir, ignore_errors=True)
        self.complete = True
        return total

    def _check_writable(self) -> None:
        folder = self.output.parent
        where = str(self.output)
        # The final rename replaces whatever is at the path: a device or a
        # FIFO would be swapped for a file, and a symlink for a file rather
        # than its target written. Both are refused, not guessed at; a user
        # who wants the link's target can name it.
        if self.output.is_symlink():
            raise OutputError(
                where, "it is a symbolic link; name the file it points to instead"
            )
        if self.output.is_dir():
            raise OutputError(where, "it is a folder")
        if self.output.exists() and not self.output.is_file():
            raise OutputError(where, "it exists and is not a regular file")
        if not folder.is_dir():
            raise OutputError(where, f"the folder {folder} does not exist")
        try:
            self.parts_dir.mkdir(exist_ok=True)
            probe = self.parts_dir / ".probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise OutputError(where, exc.strerror or str(exc)) from exc

    def _start_fresh(self) -> None:
        with _as_output_error(self.parts_dir):
            for stale in self.parts_dir.iterdir():
                stale.unlink()
        header = {
            "manifest": "genesys-async",
            "version": _MANIFEST_VERSION,
            "output": self.output.name,
            "parameters": dict(self.parameters),
        }
        _write_atomically(self.manifest_path, [header])

    def _adopt(self, records: list[dict[str, Any]]) -> None:
        header = records[0]
        if header.get("manifest") != "genesys-async":
            raise ManifestMismatchError(
                str(self.manifest_path), ["it is not a genesys-async manifest"]
            )
        differences = _differences(header.get("parameters", {}), self.parameters)
        if differences:
            raise ManifestMismatchError(str(self.manifest_path), differences)

        # A complete export's parts are gone: its chunk lines are kept as
        # they are, so a rerun reports what the output holds.
        closing = [record for record in records[1:] if record.get("complete")]
        self.complete = bool(closing) and self._output_intact(closing[-1])
        if closing and not self.complete:
            # Its parts are gone, so it cannot be assembled again: refetched.
            logger.warning(
                "%s is missing or not as the manifest recorded it; exporting again",
                self.output,
            )
        kept: list[dict[str, Any]] = [header]
        for record in records[1:]:
            if record.get("complete"):
                continue
            chunk = _parsed(record)
            if chunk is not None and (self.complete or self._on_disk(chunk)):
                self.finished.append(chunk)
                kept.append(record)
        if self.complete:
            # Nothing to write: the parts folder that open() made goes again.
            shutil.rmtree(self.parts_dir, ignore_errors=True)
            return
        # Rewrite without torn or orphaned lines, so appends stay parseable.
        _write_atomically(self.manifest_path, kept)
        self._remove_orphans()

    def _output_intact(self, closing: Mapping[str, Any]) -> bool:
        """Whether the output is there with the size the closing line records."""
        if not self.output.is_file():
            return False
        recorded = closing.get("output_bytes")
        # Manifests written before sizes were recorded vouch by existence.
        return recorded is None or self.output.stat().st_size == recorded

    def _on_disk(self, chunk: FinishedChunk) -> bool:
        """Whether a finished chunk's part is on disk as recorded."""
        part = self.parts_dir / chunk.part
        return part.is_file() and part.stat().st_size == chunk.bytes

    def _remove_orphans(self) -> None:
        """Delete spools and parts that no manifest line vouches for."""
        wanted = {chunk.part for chunk in self.finished}
        for path in self.parts_dir.iterdir():
            if path.name not in wanted:
                path.unlink()

    def _append(self, record: Mapping[str, Any]) -> None:
        try:
            with open(self.manifest_path, "ab") as manifest:
                manifest.write(orjson.dumps(record) + b"\n")
                manifest.flush()
                os.fsync(manifest.fileno())
        except OSError as exc:
            raise OutputError(
                str(self.manifest_path), exc.strerror or str(exc)
            ) from exc


@contextlib.contextmanager
def _as_output_error(path: Path) -> Iterator[None]:
    """Turn an OSError (a full disk, say) into an OutputError naming ``path``.

    The manifest keeps every chunk committed before it, so the export resumes
    once the cause is fixed; a raw traceback would hide that.
    """
    try:
        yield
    except OSError as exc:
        raise OutputError(str(path), exc.strerror or str(exc)) from exc


def _assemble(sink: IO[bytes], fmt: OutputFormat, parts: Iterable[Path]) -> None:
    """Write NDJSON part files, in order, as the chosen format.

    Parts are copied in blocks, not lines: this is the one pass over the
    whole export's bytes, and it runs once per export.
    """
    if fmt == "ndjson":
        for path in parts:
            with open(path, "rb") as part:
                shutil.copyfileobj(part, sink, _BLOCK)
        return

    # A JSON array: every line but the last ends with a comma. orjson
    # escapes newlines inside strings, so every newline ends a record.
    sink.write(b"[\n")
    wrote = False
    for path in parts:
        with open(path, "rb") as part:
            while block := part.read(_BLOCK):
                sink.write(block.replace(b"\n", b",\n"))
                wrote = True
    if wrote:
        # Take back the comma after the last record.
        sink.seek(-2, os.SEEK_END)
        sink.truncate()
        sink.write(b"\n]\n")
    else:
        sink.seek(0)
        sink.truncate()
        sink.write(b"[]\n")


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of an NDJSON file, one by one."""
    with open(path, "rb") as lines:
        for line in lines:
            yield orjson.loads(line)


def recorded_parameters(output: Path) -> Mapping[str, Any]:
    """The parameters the manifest beside ``output`` records; empty when none."""
    records = _read_lines(_manifest_path(output))
    if not records or records[0].get("manifest") != "genesys-async":
        return {}
    parameters = records[0].get("parameters")
    return parameters if isinstance(parameters, dict) else {}


def _manifest_path(output: Path) -> Path:
    return output.with_name(output.name + ".manifest.jsonl")


def _parsed(record: Mapping[str, Any]) -> FinishedChunk | None:
    """A manifest line's chunk; None for a line that does not read as one."""
    try:
        start, end = (parse_instant(t) for t in str(record["chunk"]).split("/"))
        return FinishedChunk(
            Interval(start, end),
            str(record["part"]),
            int(record["conversations"]),
            int(record["bytes"]),
            str(record.get("source", "query")),
            bool(record.get("provisional", False)),
        )
    except (KeyError, ValueError, TypeError):
        return None


def _read_lines(path: Path) -> list[dict[str, Any]]:
    """A manifest's lines; a torn or unparseable line ends the reading."""
    if not path.exists():
        return []
    records = []
    with open(path, "rb") as manifest:
        for line in manifest:
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                break
            if not isinstance(record, dict):
                break
            records.append(record)
    return records


def _write_atomically(path: Path, records: list[dict[str, Any]]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    try:
        with open(temporary, "wb") as sink:
            sink.write(b"".join(orjson.dumps(record) + b"\n" for record in records))
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        raise OutputError(str(path), exc.strerror or str(exc)) from exc


def _differences(recorded: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """One phrase per parameter that differs between two exports."""
    found = []
    for key in sorted(set(recorded) | set(wanted)):
        before, now = recorded.get(key), wanted.get(key)
        # Compare through JSON so tuples and lists, ints and floats agree.
        if orjson.dumps(before) != orjson.dumps(now):
            found.append(f"{key} was {_show(before)}, now {_show(now)}")
    return found


def _show(value: Any) -> str:
    return orjson.dumps(value).decode()


def _part_name(interval: Interval) -> str:
    """A file name for a chunk, such as ``20260901T000000.000Z_20260908T...``."""
    start, end = format_ms(interval.start_ms), format_ms(interval.end_ms)
    return f"{start}_{end}".replace("-", "").replace(":", "")

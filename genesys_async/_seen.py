"""The conversation ids a chunk has kept, in about 18 bytes each.

A live interval can return a record on two pages, so a chunk remembers which
ids it has written. A Python set of them costs some 70 bytes an id (the key
object and its slot), which in a 7-day chunk of a busy organisation is several
megabytes per open chunk. Ids that are UUIDs (all of them, on the real API) are
kept instead as their 16 raw bytes in one ``bytearray``, behind a small bit
filter: an id whose two filter bits are not both set is certainly new, and only
the rest (about 1 in 70) is looked up in the array itself. The answer is exact
either way; the filter only saves the look-ups.
"""

from __future__ import annotations

import re

__all__ = ["SeenIds"]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_KEY = 16
# Filter bits per id kept: with two bits set per id, 16 bits an id let about
# 1.4% of new ids through to the exact look-up.
_BITS_PER_ID = 16
_SMALLEST_FILTER_BITS = 1 << 12


class SeenIds:
    """An exact set of conversation ids, compact for UUIDs."""

    def __init__(self) -> None:
        # The kept UUIDs, 16 bytes each, in the order they came.
        self._keys = bytearray()
        # One bit per hash value, two values per id (from the two halves of
        # the key's hash). Doubled and refilled as ids arrive.
        self._filter = bytearray(_SMALLEST_FILTER_BITS // 8)
        self._mask = _SMALLEST_FILTER_BITS - 1
        # Ids that are not lowercase UUIDs, kept as they are.
        self._others: set[str] = set()

    def __len__(self) -> int:
        return len(self._keys) // _KEY + len(self._others)

    def add(self, conversation_id: str) -> bool:
        """Remember an id; return whether it was new."""
        if not _UUID.fullmatch(conversation_id):
            if conversation_id in self._others:
                return False
            self._others.add(conversation_id)
            return True

        key = bytes.fromhex(conversation_id.replace("-", ""))
        if self._marked(key) and self._holds(key):
            return False
        self._keys += key
        if len(self._keys) // _KEY * _BITS_PER_ID > self._mask + 1:
            self._grow()
        else:
            self._mark(key)
        return True

    def _bits(self, key: bytes) -> tuple[int, int]:
        digest = hash(key)
        return digest & self._mask, (digest >> 32) & self._mask

    def _marked(self, key: bytes) -> bool:
        first, second = self._bits(key)
        bits = self._filter
        return bool(
            bits[first >> 3] & (1 << (first & 7))
            and bits[second >> 3] & (1 << (second & 7))
        )

    def _mark(self, key: bytes) -> None:
        first, second = self._bits(key)
        self._filter[first >> 3] |= 1 << (first & 7)
        self._filter[second >> 3] |= 1 << (second & 7)

    def _holds(self, key: bytes) -> bool:
        """Whether the array holds ``key`` at a key's boundary."""
        keys = self._keys
        found = keys.find(key)
        while found != -1:
            if found % _KEY == 0:
                return True
            found = keys.find(key, found + 1)
        return False

    def _grow(self) -> None:
        """Double the filter and mark every kept key in it again."""
        size = (self._mask + 1) * 2
        self._filter = bytearray(size // 8)
        self._mask = size - 1
        view = memoryview(self._keys)
        for start in range(0, len(view), _KEY):
            self._mark(bytes(view[start : start + _KEY]))

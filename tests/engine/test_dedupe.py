"""The ids a chunk has kept: exact, whatever their form and number."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genesys_async._seen import SeenIds


def test_distinct_ids_of_every_form_are_all_new() -> None:
    """Ids that differ only in case, length or one character are told apart."""
    ids = [
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0",
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f",
        "0_1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "conversation-42",
    ]
    seen = SeenIds()

    added = [seen.add(i) for i in ids]

    assert added == [True] * len(ids)
    assert len(seen) == len(ids)


def test_an_id_seen_before_is_not_new() -> None:
    """The second sighting of any id answers False and is not counted."""
    seen = SeenIds()
    ids = ["0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "conversation-42"]
    for i in ids:
        seen.add(i)

    again = [seen.add(i) for i in ids]

    assert again == [False, False]
    assert len(seen) == 2


def test_many_ids_survive_the_filter_growing() -> None:
    """Through many doublings of the filter, every id is new once and only once."""
    ids = [str(uuid.UUID(int=n * 0x9E3779B97F4A7C15 + 1)) for n in range(20_000)]
    seen = SeenIds()

    first = [seen.add(i) for i in ids]
    second = [seen.add(i) for i in reversed(ids)]

    assert all(first)
    assert not any(second)
    assert len(seen) == len(ids)


def test_a_key_straddling_two_kept_keys_is_not_mistaken_for_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A UUID whose bytes stand across two kept keys is still new."""
    # Every id passes the filter, so each add() searches the kept keys.
    monkeypatch.setattr(SeenIds, "_marked", lambda self, key: True)
    left = "00112233-4455-6677-8899-aabbccddeeff"
    right = "00112233-4455-6677-8899-aabbccddeeff".replace("0011", "ffee")
    seen = SeenIds()
    seen.add(left)
    seen.add(right)
    # The last 8 bytes of `left` then the first 8 of `right`.
    straddling = "8899aabb-ccdd-eeff-ffee-223344556677"

    assert seen.add(straddling)
    assert not seen.add(straddling)


@given(st.lists(st.one_of(st.uuids().map(str), st.text(max_size=8)), max_size=300))
def test_seen_ids_answer_like_a_set(ids: list[str]) -> None:
    """For any sequence of ids, add() answers exactly what a set would."""
    seen = SeenIds()
    reference: set[str] = set()

    answers = [seen.add(i) for i in ids]

    expected = []
    for i in ids:
        expected.append(i not in reference)
        reference.add(i)
    assert answers == expected
    assert len(seen) == len(reference)

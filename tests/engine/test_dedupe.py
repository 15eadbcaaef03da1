"""Within-chunk dedupe keys."""

from __future__ import annotations

from genesys_async._export import _id_key


def test_id_keys_are_exact_for_uuids_and_other_ids() -> None:
    """Distinct ids never share a key, whatever their form."""
    ids = [
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0",
        "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f",
        "0_1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "conversation-42",
    ]

    keys = [_id_key(i) for i in ids]

    assert len(set(keys)) == len(ids)
    assert isinstance(keys[0], int)

"""transforms/packing.py: a batch crosses a shuffle as one bytes object and comes back equal."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from transforms.packing import pack, unpack

# What the backfill's batches hold: tuples and lists of text, integers, bytes, None.
PRIMITIVES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=5) | st.tuples(inner, inner),
    max_leaves=30,
)


@given(st.lists(PRIMITIVES, max_size=20), st.booleans())
def test_a_batch_unpacks_to_what_was_packed_compressed_or_not(batch, compress):
    blob = pack(batch, compress=compress)
    assert type(blob) is bytes
    assert unpack(blob) == batch


def test_a_compressed_batch_of_similar_rows_is_several_times_smaller():
    rows = [
        orjson.dumps({"id": f"{n:032x}", "app_id": "local-app", "name": "PURCHASE", "user_data_os": "IOS"})
        for n in range(2_000)
    ]
    plain, compressed = pack(rows), pack(rows, compress=True)
    assert unpack(compressed) == unpack(plain) == rows
    assert len(compressed) * 4 < len(plain)

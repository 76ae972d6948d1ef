"""The backfill's batch shape: archive lines read in chunks, copies packed per dedup shard.

Both must be invisible in the results: the chunked reader splits lines exactly as Beam's
``ReadFromText`` does, and the shard dedup decides every key as :func:`split_copies` does.
"""

from __future__ import annotations

import gzip
import random
from datetime import UTC, timedelta

import apache_beam as beam
import pytest
from apache_beam.coders import BytesCoder
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.dedup import split_copies
from transforms.archives import ReadArchiveChunks, read_line_chunks
from transforms.dedup import CopyPacker, DropDuplicateCopies
from transforms.tags import COUNTS, DUPLICATE

SECOND = 1_000_000  # micros
WINDOW = timedelta(seconds=10)


def _pipeline() -> beam.Pipeline:
    return beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner", "--direct_num_workers=1"]))


def _read_from_text(path) -> list[bytes]:
    """The lines ``ReadFromText`` reads, from its own source (no pipeline needed)."""
    source = beam.io.ReadFromText(str(path), coder=BytesCoder())._source
    return list(source.read(source.get_range_tracker(None, None)))


# Line contents with the separators that matter: \n ends a line, \r\n too, a lone \r does not.
_CONTENTS = st.lists(st.sampled_from([b"a", b"{}", b"\r", b"\n", b"\r\n", b" ", b"\xff", b"x\ry"]), max_size=12)


@settings(max_examples=60, deadline=None)
@given(data=_CONTENTS.map(b"".join), chunk_lines=st.integers(1, 4))
def test_chunked_lines_are_the_lines_read_from_text_gives(tmp_path_factory, data, chunk_lines):
    path = tmp_path_factory.mktemp("lines") / "archive.jsonl"
    path.write_bytes(data)
    with path.open("rb") as handle:
        chunks = list(read_line_chunks(handle, chunk_lines))
    assert all(1 <= len(chunk) <= chunk_lines for chunk in chunks)
    assert [line for chunk in chunks for line in chunk] == _read_from_text(path)


def test_gzipped_and_plain_archives_read_the_same_lines_in_the_pipeline(tmp_path):
    lines = [b'{"n": %d}' % i for i in range(2500)] + [b"", b"not json", b"last line, no newline"]
    data = b"\r\n".join(lines[:10]) + b"\r\n" + b"\n".join(lines[10:])
    (tmp_path / "plain.jsonl").write_bytes(data)
    with gzip.open(tmp_path / "packed.jsonl.gz", "wb") as out:
        out.write(data)
    for name in ("plain.jsonl", "packed.jsonl.gz"):
        with _pipeline() as pipeline:
            chunks = pipeline | f"Read{name}" >> ReadArchiveChunks(str(tmp_path / name), chunk_lines=1000)
            assert_that(chunks | beam.Map(len), equal_to([1000, 1000, 503]), label="ChunkSizes")
            assert_that(chunks | beam.FlatMap(lambda chunk: chunk), equal_to(lines), label="Lines")


def test_a_pattern_matching_no_file_fails_the_job(tmp_path):
    with pytest.raises(Exception, match="Empty match for pattern"), _pipeline() as pipeline:
        pipeline | ReadArchiveChunks(str(tmp_path / "missing-*.jsonl"))


def _packed(chunks: list[list[tuple[str, int, dict]]], shards: int) -> list[tuple[int, tuple[bytes, bytes]]]:
    """Copies as a mapping step outputs them: one packer per chunk (per DoFn call)."""
    elements = []
    for chunk in chunks:
        packer = CopyPacker(shards)
        for key, micros, value in chunk:
            packer.add(key, micros, value)
        elements.extend(packer.packs())
    return elements


@pytest.mark.parametrize("shards", [1, 3, 64])
def test_shard_dedup_decides_every_key_as_the_batch_rule_does(shards):
    rng = random.Random(shards)
    copies = []
    for k in range(300):
        for _ in range(rng.choice([1, 1, 1, 2, 3, 5])):
            micros = rng.choice([0, 1, 5, 9, 10, 11, 25]) * SECOND
            copies.append((f"key-{k}", micros, {"key": f"key-{k}", "at": micros, "copy": rng.randrange(1000)}))
    rng.shuffle(copies)
    chunks = [copies[i : i + 97] for i in range(0, len(copies), 97)]

    per_key: dict[str, list] = {}
    for key, micros, value in copies:
        per_key.setdefault(key, []).append((micros, value))
    kept, duplicates = [], []
    for key_copies in per_key.values():
        k, d = split_copies(key_copies, WINDOW.total_seconds() * SECOND)
        kept += k
        duplicates += d
    assert duplicates  # the case is not trivial

    with _pipeline() as pipeline:
        result = (
            pipeline
            | beam.Create(_packed(chunks, shards))
            | DropDuplicateCopies(WINDOW, stat_key=lambda value, dup: dup)
        )
        assert_that(result.unique, equal_to(kept), label="Kept")
        assert_that(result[DUPLICATE], equal_to(duplicates), label="Duplicates")
        counts = result[COUNTS] | beam.CombinePerKey(sum)
        assert_that(counts, equal_to([(False, len(kept)), (True, len(duplicates))]), label="Counts")


@pytest.mark.parametrize("keep_raw", [True, False])
def test_imported_rows_carry_the_raw_message_only_for_a_sink_with_per_row_dead_letters(keep_raw):
    from datetime import datetime

    import orjson

    from domain.config import load_config
    from domain.dead_letters import RAW_ATTRIBUTES, RAW_FIELDS, RAW_PAYLOAD
    from domain.mapping import ImportSettings
    from tools.samples import generate_sample
    from transforms.dedup import _unpack
    from transforms.map_messages import MapArchiveChunks

    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    lines = [m.data for m in generate_sample(40, seed=3, now=now) if m.kind == "valid"][:5]
    settings = ImportSettings(load_config(None), max_event_age=None)
    with _pipeline() as pipeline:
        mapped = pipeline | beam.Create([lines]) | MapArchiveChunks(settings, 4, keep_raw=keep_raw)
        rows = mapped.mapped | beam.FlatMap(lambda packed: [orjson.loads(v) for v in _unpack(packed[1])[2]])
        assert_that(
            # rows travel without their null columns: these messages have no publish time
            rows | beam.Map(lambda row: sorted(set(RAW_FIELDS) & set(row))),
            equal_to([sorted({RAW_PAYLOAD, RAW_ATTRIBUTES}) if keep_raw else []] * len(lines)),
        )

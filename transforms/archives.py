"""Segment archives (JSON lines, optionally gzipped, local or ``gs://``) as chunks of lines.

Lines are split as Beam's ``ReadFromText`` splits them: on ``\\n``, a ``\\r`` before it
dropped too, the last line kept without a newline, no empty record after a final newline.
Elements are lists of up to ``chunk_lines`` lines, not single lines: the backfill maps a
chunk per DoFn call and packs its copies per dedup shard, so the runner's per-element cost
is paid per chunk (see bench/README.md). Files are the unit of parallelism (a gzip file
cannot be split anyway): Segment writes many files per hour, and the matched file names
are reshuffled so that workers share them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.metrics import Metrics

from schemas.reasons import METRICS_NAMESPACE

# Measured (callgrind, bench stage c): 10x fewer shuffle elements than 1000 lines, ~2% less CPU;
# a chunk is ~10 MB of lines, read and mapped by one DoFn call (files are the unit of parallelism).
DEFAULT_CHUNK_LINES = 10_000
ARCHIVE_LINES = "archive_lines"

_LOG = logging.getLogger(__name__)


def read_line_chunks(handle, chunk_lines: int) -> Iterator[list[bytes]]:
    """A binary file object -> its lines (``ReadFromText``'s split), ``chunk_lines`` at a time."""
    chunk: list[bytes] = []
    for line in iter(handle.readline, b""):  # Beam's decompressing reader has readline, no __iter__
        if line.endswith(b"\n"):
            line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
        chunk.append(line)
        if len(chunk) >= chunk_lines:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _ReadChunksFn(beam.DoFn):
    """Progress: a log line per file read, and the ``archive_lines`` counter (the number the
    outcome counters must add up to)."""

    def __init__(self, chunk_lines: int) -> None:
        self._chunk_lines = chunk_lines
        self._lines = Metrics.counter(METRICS_NAMESPACE, ARCHIVE_LINES)

    def process(self, readable: fileio.ReadableFile):
        lines = 0
        with readable.open(compression_type=CompressionTypes.AUTO) as handle:
            for chunk in read_line_chunks(handle, self._chunk_lines):
                lines += len(chunk)
                yield chunk
        self._lines.inc(lines)
        _LOG.info("read %d lines from %s", lines, readable.metadata.path)


class ReadArchiveChunks(beam.PTransform):
    """A file pattern -> lists of its files' lines. A pattern matching no file fails the job."""

    def __init__(self, pattern: str, chunk_lines: int = DEFAULT_CHUNK_LINES) -> None:
        super().__init__()
        self._pattern = pattern
        self._chunk_lines = chunk_lines

    def expand(self, pipeline):
        return (
            pipeline
            | "MatchFiles"
            >> fileio.MatchFiles(self._pattern, empty_match_treatment=fileio.EmptyMatchTreatment.DISALLOW)
            | "SpreadFiles" >> beam.Reshuffle()
            | "OpenFiles" >> fileio.ReadMatches()
            | "ReadLineChunks" >> beam.ParDo(_ReadChunksFn(self._chunk_lines)).with_output_types(list[bytes])
        )

"""ReadTouchExports: Branch's v2 export files -> ``touches`` rows, and dead letters for the rows
that cannot be touches (``domain.branch_exports`` decides)."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.metrics import Metrics

from domain.branch_exports import InvalidExportRow, topic_of, touch_of_export_row
from domain.dead_letters import rejected_row
from domain.identifiers import DEFAULT_PLACEHOLDERS, Placeholders
from schemas.reasons import METRICS_NAMESPACE, Reason
from transforms.tags import REJECTED

_LOG = logging.getLogger(__name__)


def _line(values: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue().encode()


@beam.typehints.with_output_types(dict)
class _ReadRowsFn(beam.DoFn):
    def __init__(self, app_id: str, max_stored_bytes: int, placeholders: Placeholders) -> None:
        self._app_id = app_id
        self._max_stored_bytes = max_stored_bytes
        self._placeholders = placeholders

    def setup(self) -> None:
        self._counters = {name: Metrics.counter(METRICS_NAMESPACE, name) for name in (
            "touch_rows", "touches", "touch_dropped.no_identity", f"rejected.{Reason.INVALID_TOUCH_ROW.value}")}  # fmt: skip

    def _rejected(self, values: list[str], detail: str, now: datetime) -> beam.pvalue.TaggedOutput:
        self._counters[f"rejected.{Reason.INVALID_TOUCH_ROW.value}"].inc()
        return beam.pvalue.TaggedOutput(REJECTED, rejected_row(
            _line(values), None, None, Reason.INVALID_TOUCH_ROW, detail, now,
            max_stored_bytes=self._max_stored_bytes, app_id=self._app_id))  # fmt: skip

    def process(self, readable: fileio.ReadableFile) -> Iterator[Any]:
        path = readable.metadata.path
        topic = topic_of(path)
        if topic is None:
            _LOG.warning("skipped %s: not an eo_click, eo_install, eo_open or eo_reinstall file", path)
            return
        now = datetime.now(UTC)
        with readable.open(compression_type=CompressionTypes.AUTO) as handle:
            # (Beam's decompressing reader has readline but is no io stream: lines decoded one by one.)
            reader = csv.reader(line.decode("utf-8", errors="replace") for line in iter(handle.readline, b""))
            header = next(reader, None) or []
            for number, values in enumerate(reader, start=2):
                self._counters["touch_rows"].inc()
                if len(values) != len(header):
                    yield self._rejected(values, f"{path} line {number}: {len(values)} columns, the header has "
                                                 f"{len(header)}", now)  # fmt: skip
                    continue
                try:
                    touch, _ = touch_of_export_row(
                        dict(zip(header, values, strict=True)), self._app_id, topic, self._placeholders
                    )
                except InvalidExportRow as error:
                    yield self._rejected(values, f"{path} line {number}: {error}", now)
                    continue
                if touch is None:
                    self._counters["touch_dropped.no_identity"].inc()
                    continue
                self._counters["touches"].inc()
                yield touch.row(now)


class ReadTouchExports(beam.PTransform):
    """A file pattern -> ``touches`` rows (main) and ``REJECTED`` dead letters. ``placeholders``:
    the app's placeholder ids, never an identity key (rules §4)."""

    def __init__(
        self, pattern: str, app_id: str, max_stored_bytes: int, placeholders: Placeholders = DEFAULT_PLACEHOLDERS
    ) -> None:
        super().__init__()
        self._pattern, self._app_id, self._max_stored_bytes = pattern, app_id, max_stored_bytes
        self._placeholders = placeholders

    def expand(self, pipeline):
        return (
            pipeline
            | "MatchFiles" >> fileio.MatchFiles(self._pattern, empty_match_treatment=fileio.EmptyMatchTreatment.DISALLOW)
            | "SpreadFiles" >> beam.Reshuffle()
            | "OpenFiles" >> fileio.ReadMatches()
            | "ReadRows" >> beam.ParDo(_ReadRowsFn(self._app_id, self._max_stored_bytes, self._placeholders)).with_outputs(
                REJECTED, main="touches")
        )  # fmt: skip

"""ReadTouchesTable: the touches already in ``touches``, read back for the jobs' attribution.

    (app id, (since, until) in microseconds) --ReadTouchesTable--> touches rows of that app

The attribution composites say which touches they need (``AttributeEvents``: an app's
touches usable by a conversion published from the job's start; ``DecideInEventTimeOrder``:
those usable by the archive's conversions); this step reads them. One query per app
(``adapters.touches_table``), issued from a DoFn like the Daily Export's reads, so that the
same code runs on BigQuery and on the local emulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.timestamp import Timestamp
from google.cloud import bigquery

from adapters.bigquery import EmulatorClient
from adapters.touches_table import read_touches
from schemas.reasons import METRICS_NAMESPACE

# What to read: (app id, (since, until)), microseconds since the epoch, both inclusive.
TouchesToRead = tuple[str, tuple[int, int]]


def micros_of(when: datetime) -> int:
    return Timestamp.from_utc_datetime(when).micros


def _time_of(micros: int) -> datetime:
    return Timestamp(micros=micros).to_utc_datetime(has_tz=True)


@beam.typehints.with_input_types(TouchesToRead)
@beam.typehints.with_output_types(dict)
class _QueryTouchesFn(beam.DoFn):
    def __init__(self, project: str, dataset: str, test_client: EmulatorClient | None) -> None:
        self._project = project
        self._dataset = dataset
        self._test_client = test_client
        self._read = Metrics.counter(METRICS_NAMESPACE, "touches_read")

    def setup(self) -> None:
        self._client = self._test_client or bigquery.Client(project=self._project)

    def process(self, wanted: TouchesToRead) -> Iterator[dict[str, Any]]:
        app_id, (since, until) = wanted
        for row in read_touches(self._client, self._dataset, app_id, _time_of(since), _time_of(until)):
            self._read.inc()
            yield row

    def teardown(self) -> None:
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()


class ReadTouchesTable(beam.PTransform):
    """``(app id, (since, until))`` -> that app's rows of ``project.dataset.touches`` with
    ``since <= timestamp <= until`` (one per touch id; counter ``touches_read``).

    ``test_client``: the emulator's client (``adapters.bigquery.emulator_client``, taken when
    the graph is built, like the sinks' own), else BigQuery's."""

    def __init__(self, project: str, dataset: str, *, test_client: EmulatorClient | None = None) -> None:
        super().__init__()
        self._project = project
        self._dataset = dataset
        self._test_client = test_client

    def expand(self, wanted):
        return wanted | "QueryTouches" >> beam.ParDo(_QueryTouchesFn(self._project, self._dataset, self._test_client))

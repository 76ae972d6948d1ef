"""ReadTouchesTable: the touches already in ``touches``, read back for the jobs' attribution.

    (app id, (since, until) in microseconds) --PlanSplits--> splits --Reshuffle--> ReadSplits
        --> touches rows of that app (and links, for the streaming job)

The attribution composites say which touches they need (``AttributeEvents``: an app's
touches usable by a conversion published from the job's start; ``AttributeBackfill``: those
usable by the archive's conversions); this step reads them, in parallel: the range is
split per day and hash shard of the touch id (``adapters.touches_table``), the splits spread
over the workers, and each is read page by page: no worker holds more than a split, whatever
the table holds. The queries are issued from DoFns like the Daily Export's reads, so that the
same code runs on BigQuery and on the local emulator.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import apache_beam as beam
from apache_beam.coders import VarIntCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Duration, Timestamp
from google.cloud import bigquery

from adapters.bigquery import EmulatorClient
from adapters.touches_table import ROWS_PER_SPLIT, Split, plan_splits, read_loaded, read_split
from domain.branch_exports import TOUCH_TOPICS
from domain.timestamps import micros_in, micros_of, moment_of
from schemas.reasons import METRICS_NAMESPACE
from transforms.state_cache import StatefulDoFn

_LOG = logging.getLogger(__name__)

# What to read: (app id, (since, until)), microseconds since the epoch, both inclusive.
TouchesToRead = tuple[str, tuple[int, int]]


class _TouchesQueryFn(beam.DoFn):
    """A DoFn that queries ``touches`` (its client made on the worker)."""

    def __init__(self, project: str, dataset: str, test_client: EmulatorClient | None) -> None:
        self._project = project
        self._dataset = dataset
        self._test_client = test_client

    def setup(self) -> None:
        super().setup()
        self._client = self._test_client or bigquery.Client(project=self._project)

    def teardown(self) -> None:
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()


@beam.typehints.with_input_types(TouchesToRead)
@beam.typehints.with_output_types(Split)
class _PlanSplitsFn(_TouchesQueryFn):
    def __init__(
        self, project: str, dataset: str, test_client: EmulatorClient | None, links: bool, rows_per_split: int
    ) -> None:
        super().__init__(project, dataset, test_client)
        self._links = links
        self._rows_per_split = rows_per_split

    def process(self, wanted: TouchesToRead) -> Iterator[Split]:
        app_id, (since, until) = wanted
        yield from plan_splits(
            self._client, self._dataset, app_id, moment_of(since), moment_of(until),
            links=self._links, rows_per_split=self._rows_per_split,
        )  # fmt: skip


@beam.typehints.with_input_types(Split)
@beam.typehints.with_output_types(dict)
class _ReadSplitFn(_TouchesQueryFn):
    def __init__(self, project: str, dataset: str, test_client: EmulatorClient | None, links: bool) -> None:
        super().__init__(project, dataset, test_client)
        self._links = links
        self._read = Metrics.counter(METRICS_NAMESPACE, "touches_read")

    def process(self, split: Split) -> Iterator[dict[str, Any]]:
        for row in read_split(self._client, self._dataset, split, links=self._links):
            self._read.inc()
            yield row


class ReadTouchesTable(beam.PTransform):
    """``(app id, (since, until))`` -> that app's rows of ``project.dataset.touches`` with
    ``since <= timestamp <= until`` (counter ``touches_read``); links too with ``links`` (for
    the streaming job's state). A row keeps its input's timestamp.

    ``test_client``: the emulator's client (``adapters.bigquery.emulator_client``, taken when
    the graph is built, like the sinks' own), else BigQuery's. ``rows_per_split``: about how
    many rows one worker reads in one go (a split is read page by page)."""

    def __init__(
        self,
        project: str,
        dataset: str,
        *,
        test_client: EmulatorClient | None = None,
        links: bool = False,
        rows_per_split: int = ROWS_PER_SPLIT,
    ) -> None:
        super().__init__()
        self._args = (project, dataset, test_client, links)
        self._rows_per_split = rows_per_split

    def expand(self, wanted):
        return (
            wanted
            | "PlanSplits" >> beam.ParDo(_PlanSplitsFn(*self._args, self._rows_per_split))
            | "SpreadSplits" >> beam.Reshuffle()
            | "ReadSplits" >> beam.ParDo(_ReadSplitFn(*self._args))
        )


# --------------------------------------------------------------------------- the tail


@beam.typehints.with_input_types(tuple[str, int])
@beam.typehints.with_output_types(dict)
class _TailFn(_TouchesQueryFn, StatefulDoFn):
    """Keyed by app: every ``interval`` (a processing-time timer that sets itself again), the
    rows ``load_touches`` added since the last read, that a conversion can still use."""

    LOADED_UNTIL = ReadModifyWriteStateSpec("loaded_until_micros", VarIntCoder())
    TICK = TimerSpec("tick", TimeDomain.REAL_TIME)

    def __init__(
        self,
        project: str,
        dataset: str,
        test_client: EmulatorClient | None,
        interval: timedelta,
        horizon: dict[str, timedelta],
        sources: tuple[str, ...],
    ) -> None:
        super().__init__(project, dataset, test_client)
        self._interval, self._horizon, self._sources = interval, horizon, sources
        self._read = Metrics.counter(METRICS_NAMESPACE, "touches_tailed")

    def process(self, element, loaded_until=beam.DoFn.StateParam(LOADED_UNTIL),
                tick=beam.DoFn.TimerParam(TICK)) -> Iterator[dict[str, Any]]:  # fmt: skip
        _, start_micros = element  # (the start-up read covers what was loaded before the job started)
        loaded_until.write(start_micros)
        tick.set(Timestamp.now() + Duration(micros=micros_in(self._interval)))
        return iter(())

    @on_timer(TICK)
    def read_new(self, key=beam.DoFn.KeyParam, loaded_until=beam.DoFn.StateParam(LOADED_UNTIL),
                 tick=beam.DoFn.TimerParam(TICK)) -> Iterator[dict[str, Any]]:  # fmt: skip
        now = datetime.now(UTC)
        since = moment_of(loaded_until.read() or micros_of(now))
        try:
            rows = list(
                read_loaded(self._client, self._dataset, key, since, now, now - self._horizon[key], self._sources)
            )
        except Exception as error:  # noqa: BLE001 - a failed read is tried again at the next tick
            _LOG.warning("touches of %s not tailed (%s); trying again in %s", key, type(error).__name__, self._interval)
            rows = []
        else:
            loaded_until.write(micros_of(now))
        tick.set(Timestamp.now() + Duration(micros=micros_in(self._interval)))
        for row in rows:
            self._read.inc()
            yield row


class TailTouchesTable(beam.PTransform):
    """``(app id, start micros)`` per app -> the rows ``load_touches`` adds to ``touches`` while
    the job runs, every ``interval`` (counter ``touches_tailed``): Branch's export files
    loaded after the start reach the attribution within the interval, not at a restart.
    ``horizon``: per app, how old a touch a conversion can still use (its rows older than
    that are not read)."""

    def __init__(
        self,
        project: str,
        dataset: str,
        interval: timedelta,
        horizon: dict[str, timedelta],
        *,
        test_client: EmulatorClient | None = None,
    ) -> None:
        super().__init__()
        self._fn = _TailFn(project, dataset, test_client, interval, horizon, TOUCH_TOPICS)

    def expand(self, apps):
        return apps | "EveryInterval" >> beam.ParDo(self._fn)

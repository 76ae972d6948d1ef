"""Load touches from Branch's own Daily Export files into ``touches`` (rules §9).

    python -m beam_jobs.load_touches --input 'gs://bucket/branch/*-eo_click-v2-*.csv.gz' \\
        --default_app_id my-app --project P --dataset segment_branch [--runner DataflowRunner ...]

Reads v2 CSV files (gzipped or not, local or ``gs://``) of the topics eo_click, eo_install,
eo_open and eo_reinstall, by file name (a file of another topic is skipped and logged). A row
with an identity key becomes a ``touches`` row (id ``<topic>:<Branch id>``); a row that cannot
be a touch (no id or time, the wrong columns) goes to ``rejected_events`` with reason
``invalid_touch_row`` and its CSV line; a row without an identity key is counted
(``touch_dropped.no_identity``). Never a crash on a bad row.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from adapters.bigquery import emulator_client
from beam_jobs.options import (
    ImporterOptions,
    InputFilesOptions,
    bq_project,
    check_live_tables,
    import_settings,
    input_patterns,
    job_parser,
    parse_job_args,
    runs_on_dataflow,
)
from schemas.reasons import METRICS_NAMESPACE
from schemas.tables import REJECTED_EVENTS, TOUCHES
from transforms.sinks import WriteTableRows
from transforms.tags import REJECTED
from transforms.touch_exports import ReadTouchExports

# Of ImporterOptions, the options the job reads (the other parameters of its Flex Template,
# ``dataflow/metadata/load_touches.json``).
SHARED_OPTIONS = ("dataset", "bq_project", "app_config", "default_app_id", "max_payload_bytes")


class LoadTouchesOptions(ImporterOptions, InputFilesOptions, PipelineOptions):
    """``--input``, and of ImporterOptions the ``SHARED_OPTIONS``; none of its own (each flag
    is defined once: beam_jobs/options.py)."""

    @classmethod
    def _add_argparse_args(cls, parser):
        pass


def build_pipeline(pipeline: beam.Pipeline, options: PipelineOptions) -> None:
    """The whole job: read the files, then write touches and dead letters."""
    opts = options.view_as(LoadTouchesOptions)
    project = bq_project(options)
    app = import_settings(options).default_app  # the files' app: --default_app_id
    if app is None:
        raise ValueError("name the app the files are of: --default_app_id (the app config has no default app)")
    app_id = app.app_id
    client = emulator_client(project)
    read = [pipeline | f"ReadExports{i}" >> ReadTouchExports(pattern, app_id, opts.max_payload_bytes, app.placeholders)
            for i, pattern in enumerate(input_patterns(options))]  # fmt: skip
    (
        [r.touches for r in read]
        | "FlattenTouches" >> beam.Flatten()
        | "WriteTouches" >> WriteTableRows(project, opts.dataset, TOUCHES, test_client=client)
    )
    (
        [r[REJECTED] for r in read]
        | "FlattenDeadLetters" >> beam.Flatten()
        | "WriteRejectedEvents" >> WriteTableRows(project, opts.dataset, REJECTED_EVENTS, test_client=client)
    )


def run(argv: Sequence[str] | None = None):
    options = PipelineOptions(argv)
    check_live_tables(options)
    pipeline = beam.Pipeline(options=options)
    build_pipeline(pipeline, options)
    result = pipeline.run()
    if not runs_on_dataflow(options):
        result.wait_until_finish()
    return result


def counts(result) -> dict[str, int]:
    query = result.metrics().query(beam.metrics.MetricsFilter().with_namespace(METRICS_NAMESPACE))["counters"]
    totals: dict[str, int] = {}
    for counter in query:
        totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + counter.committed
    return totals


def arg_parser() -> argparse.ArgumentParser:
    """The job's command line (``--help``)."""
    return job_parser("beam_jobs.load_touches", __doc__, LoadTouchesOptions, InputFilesOptions, shared=SHARED_OPTIONS)


def main(argv: Sequence[str] | None = None) -> None:
    logging.getLogger().setLevel(logging.INFO)
    argv = parse_job_args(arg_parser(), argv)
    result = run(argv)
    if runs_on_dataflow(PipelineOptions(argv)):
        print("submitted; the counters are in the Dataflow job's metrics (namespace segment_import)")
        return
    totals = counts(result)
    print(
        f"LOAD_TOUCHES rows={totals.get('touch_rows', 0)} touches={totals.get('touches', 0)} "
        f"no_identity={totals.get('touch_dropped.no_identity', 0)} "
        f"rejected={totals.get('rejected.invalid_touch_row', 0)}"
    )


if __name__ == "__main__":
    main()

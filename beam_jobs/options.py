"""Pipeline options shared by the importer's jobs (Dataflow template parameters too)."""

from __future__ import annotations

from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions, StandardOptions

from adapters.bigquery import make_client
from adapters.provision import missing_columns
from adapters.storage import load_app_config
from domain.mapping import DEFAULT_MAX_PAYLOAD_BYTES, ImportSettings
from domain.timestamps import parse_duration
from schemas.tables import TABLES

# STORAGE_WRITE_API is not offered: Beam 2.77's Python path to it (cross-language) cannot
# convert JSON columns (custom_data, content_items.custom_fields). See dataflow/README.md.
WRITE_METHODS = ("STREAMING_INSERTS", "FILE_LOADS")


class ImporterOptions(PipelineOptions):
    """Options common to the streaming import and the backfill."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument(
            "--dataset",
            default="segment_branch",
            help="BigQuery dataset holding events, rejected_events and import_stats.",
        )
        parser.add_argument("--bq_project", default=None, help="Project of the BigQuery dataset (default: --project).")
        parser.add_argument(
            "--app_config",
            default=None,
            help="App config file (YAML/JSON, local or gs://; required, except against the local emulators).",
        )
        parser.add_argument(
            "--default_app_id",
            default=None,
            help="App for messages without a branch_key attribute (default: the config's).",
        )
        parser.add_argument(
            "--max_clock_skew", default="10m", help="Reject events further in the future than this (e.g. 10m; off)."
        )
        parser.add_argument(
            "--max_payload_bytes",
            type=int,
            default=DEFAULT_MAX_PAYLOAD_BYTES,
            help="Reject message data larger than this many bytes.",
        )
        parser.add_argument(
            "--dedup_window",
            default="10m",
            help="Drop a repeated (app, messageId) seen within this duration (e.g. 600, 10m).",
        )
        # ``--read_touches_table=false`` (a Flex Template passes every value as text).
        parser.add_argument(
            "--read_touches_table",
            default="true",
            choices=("true", "false"),
            help="Attribute with the touches already in the touches table too (loaded from Branch's "
            "export files, or seen before a restart), read once at start. Default: true.",
        )
        parser.add_argument(
            "--bq_write_method",
            default="STREAMING_INSERTS",
            choices=WRITE_METHODS,
            help="How events reach BigQuery (see README: trade-offs).",
        )


def bq_project(options: PipelineOptions) -> str:
    project = options.view_as(ImporterOptions).bq_project or options.view_as(GoogleCloudOptions).project
    if not project:
        raise ValueError("set --project (or --bq_project)")
    return project


def import_settings(options: ImporterOptions, *, max_event_age: str | None) -> ImportSettings:
    """Load the app config at launch: workers get the parsed config inside the pickled DoFn."""
    return ImportSettings(
        load_app_config(options.app_config),
        default_app_id=options.default_app_id,
        max_payload_bytes=options.max_payload_bytes,
        max_event_age=parse_duration(max_event_age),
        max_clock_skew=parse_duration(options.max_clock_skew),
    )


def check_live_tables(options: PipelineOptions) -> None:
    """Refuse to start a job whose tables lack a column it writes (after an upgrade that added
    columns, ``segment-branch provision`` adds them; run it before updating the job)."""
    project, dataset = bq_project(options), options.view_as(ImporterOptions).dataset
    missing = missing_columns(make_client(project), dataset, list(TABLES))
    if missing:
        lacking = "; ".join(f"{table} lacks {', '.join(columns)}" for table, columns in missing.items())
        raise SystemExit(
            f"the tables of {project}.{dataset} are older than this job ({lacking}): "
            f"run `segment-branch provision --project {project} --dataset {dataset}` first"
        )


def runs_on_dataflow(options: PipelineOptions) -> bool:
    """A Flex Template launcher must submit and return, not wait for the job to end."""
    return "Dataflow" in str(options.view_as(StandardOptions).runner or "")

"""Pipeline options shared by the importer's jobs (Dataflow template parameters too)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection, Sequence

from apache_beam.options.pipeline_options import (
    GoogleCloudOptions,
    PipelineOptions,
    StandardOptions,
    _BeamArgumentParser,
)

from adapters.bigquery import make_client
from adapters.provision import missing_columns
from adapters.storage import load_app_config
from domain.mapping import DEFAULT_MAX_PAYLOAD_BYTES, ImportSettings
from domain.timestamps import parse_duration
from schemas.tables import TABLES

# STORAGE_WRITE_API is not offered: Beam 2.77's Python path to it (cross-language) cannot
# convert JSON columns (custom_data, content_items.custom_fields). See dataflow/README.md.
WRITE_METHODS = ("STREAMING_INSERTS", "FILE_LOADS")


# Beam parses every direct subclass of PipelineOptions for every pipeline in the process (and
# warns "Unparseable argument" for a flag none defines), so each flag is defined once, in a
# direct subclass, and none is ``required=True``: each job checks its own required flags. A
# job's class lists PipelineOptions among its bases for that reason.
STREAMING_MAX_EVENT_AGE = "24h"  # Branch's real-time rule
BACKFILL_MAX_EVENT_AGE = "off"  # backfills import history


class ImporterOptions(PipelineOptions):
    """Options common to the streaming import and the backfill (and some of them to the
    other jobs)."""

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
            "--max_event_age",
            default=None,
            help=f"Reject events older than this ('off' disables). Default: {STREAMING_MAX_EVENT_AGE} for the "
            f"streaming job (Branch's real-time rule), {BACKFILL_MAX_EVENT_AGE} for the backfill (history).",
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


class InputFilesOptions(PipelineOptions):
    """``--input``: the file jobs' patterns (the backfill's archives, load_touches' exports)."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument(
            "--input",
            action="append",
            help="File pattern, local or gs:// (repeatable; required): the backfill reads Segment JSON lines "
            "(*.jsonl, *.jsonl.gz), load_touches Branch v2 export files (*.csv, *.csv.gz).",
        )


def input_patterns(options: PipelineOptions) -> list[str]:
    """The job's ``--input`` patterns (at least one)."""
    patterns = options.view_as(InputFilesOptions).input
    if not patterns:
        raise SystemExit("give the files to read: --input PATTERN (repeatable)")
    return patterns


def bq_project(options: PipelineOptions) -> str:
    project = options.view_as(ImporterOptions).bq_project or options.view_as(GoogleCloudOptions).project
    if not project:
        raise ValueError("set --project (or --bq_project)")
    return project


def import_settings(options: PipelineOptions, *, default_max_event_age: str = "off") -> ImportSettings:
    """Load the app config at launch: workers get the parsed config inside the pickled DoFn.
    ``--max_event_age`` defaults to the job's own (``default_max_event_age``)."""
    opts = options.view_as(ImporterOptions)
    return ImportSettings(
        load_app_config(opts.app_config),
        default_app_id=opts.default_app_id,
        max_payload_bytes=opts.max_payload_bytes,
        max_event_age=parse_duration(opts.max_event_age or default_max_event_age),
        max_clock_skew=parse_duration(opts.max_clock_skew),
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


BEAM_OPTIONS_NOTE = """\
Beam's standard pipeline options are accepted too (not listed here): --runner, --project,
--region, --temp_location, --staging_location, --setup_file, --sdk_container_image, ...
On Dataflow: --runner=DataflowRunner. Locally: --runner=FnApiRunner for the batch jobs,
--runner=BundleBasedDirectRunner for the streaming job (Beam's default, DirectRunner, tries
Prism first); against the emulators (python -m tools.localstack) --project=local-project."""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The module docstring as written; each option's default after its help, unless the help
    already says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default is None or action.default is argparse.SUPPRESS or "default" in text.lower():
            return text
        return f"{text} Default: {str(action.default).replace('%', '%%')}."  # argparse formats help with %


def job_parser(
    module: str,
    description: str | None,
    *option_classes: type[PipelineOptions],
    shared: Collection[str] = (),
) -> argparse.ArgumentParser:
    """A job's command line: ``--help`` lists the options of ``option_classes``, and of
    ImporterOptions those named in ``shared``, with their help; Beam's own options (every
    class Beam parses for any pipeline, ImporterOptions among them) are accepted, not listed."""
    # Beam's parser class, as its options classes expect (value-provider arguments).
    parser = _BeamArgumentParser(
        prog=f"python -m {module}",
        description=description,
        epilog=BEAM_OPTIONS_NOTE,
        formatter_class=_HelpFormatter,
        allow_abbrev=False,  # as Beam's parser: a prefix of an option is not that option
    )
    for cls in option_classes:
        cls._add_argparse_args(parser)
    # Beam parses the direct subclasses of PipelineOptions (ImporterOptions among them) for
    # every pipeline: accepted, and not listed unless ``shared``.
    for cls in dict.fromkeys(PipelineOptions.__subclasses__()):
        if cls in option_classes:
            continue
        start = len(parser._actions)
        cls._add_argparse_args(parser)
        for action in parser._actions[start:]:
            if not (cls is ImporterOptions and action.dest in shared):
                action.help = argparse.SUPPRESS
    return parser


def parse_job_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> list[str]:
    """Check a job's arguments before Beam reads them (Beam ignores what it does not know):
    ``--help`` prints the job's options and exits; a bad value of an option, or a flag no
    options class defines, exits with the parser's error. On Dataflow unknown flags are left
    to Beam, which hands them to the service. Returns the arguments, for PipelineOptions."""
    args = list(sys.argv[1:] if argv is None else argv)
    _, unknown = parser.parse_known_args(args)
    if unknown and not runs_on_dataflow(PipelineOptions(args)):
        parser.error(f"unrecognized arguments: {' '.join(unknown)} (--help lists the job's options)")
    return args

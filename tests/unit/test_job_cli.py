"""Each job's command line: ``--help`` lists the job's own options with their help, and a flag
no options class defines fails (locally) instead of being ignored."""

from __future__ import annotations

import argparse
import json
import re

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from beam_jobs import backfill, daily_export, load_touches, segment_import
from beam_jobs.options import ImporterOptions, InputFilesOptions, parse_job_args
from tests.support import REPO

JOBS = {
    "segment_import": (segment_import, segment_import.SegmentImportOptions),
    "backfill": (backfill, backfill.BackfillOptions),
    "daily_export": (daily_export, daily_export.DailyExportOptions),
    "load_touches": (load_touches, load_touches.LoadTouchesOptions),
}


def _help_texts(job: str) -> dict[str, str]:
    """Every option the job reads (its Flex Template's parameters, an independent list) and the
    help its options class gives it."""
    _, cls = JOBS[job]
    parser = argparse.ArgumentParser(add_help=False)  # (each flag is defined once: a repeat fails here)
    for klass in dict.fromkeys([*cls.mro(), ImporterOptions, InputFilesOptions]):
        if klass is not PipelineOptions and "_add_argparse_args" in vars(klass):
            klass._add_argparse_args(parser)
    helps = {action.dest: action.help for action in parser._actions if action.help}
    metadata = json.loads((REPO / "dataflow" / "metadata" / f"{job}.json").read_text())
    return {param["name"]: helps[param["name"]] for param in metadata["parameters"]}


def _help(job: str, capsys) -> str:
    module, _ = JOBS[job]
    with pytest.raises(SystemExit) as exited:
        module.main(["--help"])
    assert exited.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def _squeezed(text: str) -> str:
    """Without whitespace: the help is wrapped to the terminal's width."""
    return "".join(text.split())


@pytest.mark.parametrize("job", sorted(JOBS))
def test_help_lists_each_option_of_the_job_with_its_help_text(job, capsys):
    text = _help(job, capsys)
    assert text.startswith(f"usage: python -m beam_jobs.{job} ")
    for name, help_text in _help_texts(job).items():
        assert f"--{name} " in text, name
        assert _squeezed(help_text)[:40] in _squeezed(text.split(f"--{name} ", 1)[1]), name


@pytest.mark.parametrize("job", sorted(JOBS))
def test_help_names_beams_standard_options_and_the_local_runner(job, capsys):
    text = _help(job, capsys)
    for flag in ("--runner", "--project", "--region", "--temp_location", "--runner=DataflowRunner"):
        assert flag in text
    assert "--runner=FnApiRunner" in text and "--runner=BundleBasedDirectRunner" in text


@pytest.mark.parametrize("job", sorted(JOBS))
def test_help_leaves_out_importer_options_the_job_does_not_read(job, capsys):
    text = _help(job, capsys)
    listed = set(_help_texts(job))
    importer = argparse.ArgumentParser(add_help=False)
    ImporterOptions._add_argparse_args(importer)
    for action in importer._actions:  # (listed: the flag and its metavar or choices, not a mention in a help)
        shown = re.search(rf"--{action.dest} ([A-Z_]+|\{{|\[)", text) is not None
        assert shown == (action.dest in listed), action.dest


@pytest.mark.parametrize(
    "removed", [["--date", "auto"], ["--date=2026-11-19"], ["--all-apps"], ["--export-date=2026-11-19"]]
)
def test_a_spelling_the_daily_export_does_not_have_fails_with_the_parsers_error(removed, capsys):
    with pytest.raises(SystemExit) as exited:
        daily_export.main(["--project=local-project", "--output=/tmp/unused", *removed])
    assert exited.value.code == 2
    assert f"unrecognized arguments: {' '.join(removed)}" in capsys.readouterr().err


def test_a_bad_value_fails_with_the_parsers_error(capsys):
    with pytest.raises(SystemExit) as exited:
        daily_export.main(["--project=local-project", "--output=/tmp/unused", "--export_date=2026-13-01"])
    assert exited.value.code == 2
    assert "--export_date: expected auto or a day YYYY-MM-DD, got '2026-13-01'" in capsys.readouterr().err


def test_beams_own_options_are_accepted():
    argv = ["--runner=FnApiRunner", "--project=p", "--temp_location=/tmp", "--direct_num_workers=1", "--input=x"]
    assert parse_job_args(backfill.arg_parser(), argv) == argv


def test_on_dataflow_unknown_flags_are_left_to_beam():
    # Beam hands options it does not know to the Dataflow service.
    argv = ["--runner=DataflowRunner", "--project=p", "--input=gs://b/x", "--a_service_option=1"]
    assert parse_job_args(backfill.arg_parser(), argv) == argv


@pytest.mark.parametrize(
    "argv",
    [
        ["--subscription=projects/p/subscriptions/s", "--max_event_age=24h", "--feed_topic=projects/p/topics/f"],
        ["--input=a.jsonl", "--input=b.jsonl.gz", "--dedup_shards=8", "--max_event_age=off"],
        ["--input=eo_click.csv.gz", "--default_app_id=app"],
        ["--output=/tmp/x", "--all_apps", "--export_date=2026-11-19", "--lookback_days=3"],
    ],
    ids=["segment_import", "backfill", "load_touches", "daily_export"],
)
def test_no_job_flag_is_unparseable_to_beam(argv, caplog):
    """Beam warns "Unparseable argument" at run time for a flag no direct subclass of
    PipelineOptions defines: every job's flag is defined once, in one (beam_jobs/options.py)."""
    options = PipelineOptions(["--project=p", "--dataset=d", *argv])
    with caplog.at_level("WARNING"):
        values = options.get_all_options(retain_unknown_options=True, display_warnings=True)
    assert [r.getMessage() for r in caplog.records] == []
    assert {flag.split("=")[0].lstrip("-") for flag in argv} <= set(values)


def test_auto_dedup_shards_follow_the_archive_size(tmp_path):
    from beam_jobs.backfill import DEFAULT_DEDUP_SHARDS, dedup_shards

    small = tmp_path / "small.jsonl"
    small.write_bytes(b"{}\n" * 1000)
    assert dedup_shards("auto", [str(small)]) == DEFAULT_DEDUP_SHARDS  # the floor: groups to spread
    # 330 GB of plain lines (a sparse file: its size only) ~ 300M events: one shard per ~1M.
    with (tmp_path / "big.jsonl").open("wb") as big:
        big.truncate(300_000_000 * 1_100)
    with (tmp_path / "big.jsonl.gz").open("wb") as gzipped:
        gzipped.truncate(100_000_000 * 150)
    assert dedup_shards("auto", [str(tmp_path / "big.jsonl")]) == 300
    assert dedup_shards("auto", [str(tmp_path / "big.jsonl*")]) == 400
    assert dedup_shards("64", [str(small)]) == 64
    with pytest.raises(ValueError):
        dedup_shards("0", [str(small)])


def test_the_attribution_plan_is_in_memory_for_a_small_archive_and_keyed_for_a_large_one(tmp_path):
    from datetime import timedelta

    from beam_jobs.backfill import attribution_plan
    from domain.keyed_replay import KeyedPlan

    day = timedelta(days=1)
    small = tmp_path / "small.jsonl"
    small.write_bytes(b"{}\n" * 1000)
    with (tmp_path / "big.jsonl").open("wb") as big:  # ~12M events (a sparse file: its size only)
        big.truncate(12_000_000 * 1_100)
    assert attribution_plan("auto", [str(small)], day) is None  # in memory
    # Keyed above ~5M events, one key shard per ~200k events.
    assert attribution_plan("auto", [str(tmp_path / "big.jsonl")], day) == KeyedPlan(60, day)
    assert attribution_plan("keyed", [str(small)], timedelta(hours=6)) == KeyedPlan(1, timedelta(hours=6))
    assert attribution_plan("in_memory", [str(tmp_path / "big.jsonl")], day) is None

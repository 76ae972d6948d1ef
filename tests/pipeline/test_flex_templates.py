"""The Flex Template metadata (dataflow/metadata/<job>.json) matches each job's real options.

Every option a job defines is a documented parameter, no parameter is stale, isOptional is
false exactly for the options the job cannot build without, defaults are in the help text,
and each parameter's regexes accept its default and a realistic value and reject a bad one.
"""

from __future__ import annotations

import argparse
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.job.utils import struct_to_dict
from apache_beam.runners.portability.portable_runner import JobServiceHandle

from adapters.storage import EMULATOR_VARS
from beam_jobs import backfill, daily_export, load_touches, segment_import
from beam_jobs.options import ImporterOptions
from tests.support import REPO, build_compiled_script

METADATA_DIR = REPO / "dataflow" / "metadata"
DOCKERFILE = REPO / "dataflow" / "Dockerfile"

# Job name -> its module; the module's arg_parser() lists the options the job reads (--help).
JOBS = {job.__name__.rsplit(".", 1)[1]: job for job in (segment_import, backfill, daily_export, load_touches)}
OPTIONS_CLASSES: dict[str, type[PipelineOptions]] = {
    "segment_import": segment_import.SegmentImportOptions,
    "backfill": backfill.BackfillOptions,
    "daily_export": daily_export.DailyExportOptions,
    "load_touches": load_touches.LoadTouchesOptions,
}

# A realistic value (launching on Dataflow) and an obviously bad one, per option name.
EXAMPLES: dict[str, tuple[str, str]] = {
    "subscription": ("projects/my-proj/subscriptions/segment-events", "segment-events"),
    "feed_topic": ("projects/my-proj/topics/branch-events-feed", "branch-events-feed"),
    "input": ("gs://my-bucket/segment/2026/11/*.jsonl.gz", "/tmp/segment.jsonl"),
    "dataset": ("segment_branch_prod", "my-dataset"),
    "bq_project": ("my-proj-123", "My Project"),
    "app_config": ("gs://my-bucket/config/apps.yaml", "apps.txt"),
    "default_app_id": ("local-app", "app id"),
    "app_id": ("local-app", "app id"),
    "max_event_age": ("24h", "one day"),
    "max_clock_skew": ("10m", "-5m"),
    "max_payload_bytes": ("2097152", "1MB"),
    "dedup_window": ("15m", "off"),
    "dedup_shards": ("1024", "0"),
    "attribution_plan": ("keyed", "per_key"),
    "attribution_bucket_hours": ("6", "0"),
    "insert_buffering_seconds": ("2.5", "5s"),
    "stats_flush_seconds": ("30", "0.5"),
    "max_touches_per_key": ("128", "-1"),
    "touches_refresh_seconds": ("60", "5m"),
    # The other methods' graphs are checked in test_dataflow_graph.py.
    "bq_write_method": ("STREAMING_INSERTS", "storage_write"),
    "export_date": ("2026-11-19", "2026-13-01"),
    "output": ("gs://my-bucket/exports", "exports/local-app"),
    "all_apps": ("true", "yes"),
    "read_touches_table": ("false", "no"),
    "lookback_days": ("7", "0"),
    "ready_after": ("26h", "one day"),
    "now": ("2026-11-22T12:00:00+00:00", "noon"),
    "max_rows_per_file": ("200000", "-1"),
}


# Values that would make building the graph touch Cloud Storage: local stand-ins.
@pytest.fixture(autouse=True)
def _no_emulators(monkeypatch):
    """A Flex Template launcher runs on Dataflow, where no emulator variable is set (so the
    jobs' refusal to fall back to the bundled app config applies, as it does there)."""
    for var in EMULATOR_VARS:
        monkeypatch.delenv(var, raising=False)


def _build_overrides(tmp_path: Path) -> dict[str, str]:
    archive = tmp_path / "segment.jsonl"
    archive.write_text("{}\n")
    return {
        "input": str(archive),
        "app_config": str(REPO / "domain" / "default_app_config.yaml"),
        "output": str(tmp_path / "export"),
    }


def _metadata(job: str) -> dict[str, Any]:
    return json.loads((METADATA_DIR / f"{job}.json").read_text())


def _params(job: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in _metadata(job)["parameters"]}


def _actions(job: str) -> dict[str, argparse.Action]:
    """The options the job reads, as argparse actions: those its ``--help`` lists."""
    parser = JOBS[job].arg_parser()
    return {a.dest: a for a in parser._actions if a.help != argparse.SUPPRESS and a.dest != "help"}


def _build(job: str, values: dict[str, str], tmp_path: Path) -> None:
    """Build (not run) the job's graph from parameter values, as the launcher would."""
    overrides = _build_overrides(tmp_path)
    argv = ["--project=my-proj"] + [f"--{k}={overrides.get(k, v)}" for k, v in values.items()]
    options = PipelineOptions(argv)
    JOBS[job].build_pipeline(beam.Pipeline(options=options), options)


def _required_values(job: str) -> dict[str, str]:
    return {name: EXAMPLES[name][0] for name, p in _params(job).items() if not p["isOptional"]}


def _matches(param: dict[str, Any], value: str) -> bool:
    return all(re.fullmatch(regex, value) for regex in param["regexes"])


@pytest.mark.parametrize("job", sorted(JOBS))
def test_every_option_of_the_job_is_a_parameter_and_no_parameter_is_stale(job):
    assert set(_params(job)) == set(_actions(job))


@pytest.mark.parametrize("job", sorted(JOBS))
def test_parameters_carry_the_fields_dataflow_shows(job):
    meta = _metadata(job)
    assert meta["name"] and meta["description"]
    assert meta["streaming"] is (job == "segment_import")
    for param in meta["parameters"]:
        assert set(param) == {"name", "label", "helpText", "isOptional", "regexes"}, param["name"]
        assert param["label"] and param["helpText"] and param["regexes"], param["name"]


@pytest.mark.parametrize("job", sorted(JOBS))
def test_required_parameters_are_exactly_those_the_job_cannot_build_without(job, tmp_path):
    required = _required_values(job)
    _build(job, required, tmp_path)  # every optional parameter really is optional
    for name, action in _actions(job).items():
        if action.required:
            assert name in required, f"{name} is required by the parser but isOptional in metadata"
    for name in required:
        with pytest.raises((SystemExit, ValueError)):
            _build(job, {k: v for k, v in required.items() if k != name}, tmp_path)


@pytest.mark.parametrize("job", sorted(JOBS))
def test_defaults_are_documented_in_the_help_text(job):
    for name, action in _actions(job).items():
        param = _params(job)[name]
        if param["isOptional"]:
            expected = "Default:" if action.default is None else f"Default: {action.default}."
            assert expected in param["helpText"], name


@pytest.mark.parametrize("job", sorted(JOBS))
def test_regexes_accept_the_default_and_a_realistic_value_and_reject_a_bad_one(job):
    for name, action in _actions(job).items():
        param = _params(job)[name]
        for regex in param["regexes"]:
            re.compile(regex)
        good, bad = EXAMPLES[name]
        if action.default is not None:
            assert _matches(param, str(action.default)), f"{name}: default {action.default!r}"
        assert _matches(param, good), f"{name}: {good!r}"
        assert not _matches(param, bad), f"{name}: {bad!r}"
        if action.choices:
            assert [c for c in action.choices if _matches(param, c)] == list(action.choices), name


@pytest.mark.parametrize("job", sorted(JOBS))
def test_each_realistic_value_is_accepted_by_the_job_itself(job, tmp_path):
    required = _required_values(job)
    for name in _params(job):
        _build(job, {**required, name: EXAMPLES[name][0]}, tmp_path)


def test_dockerfile_pins_the_beam_version_the_package_and_the_venv_use():
    pinned = re.search(r'^BEAM_VERSION = "([^"]+)"', (REPO / "setup.py").read_text(), flags=re.M).group(1)
    dockerfile = DOCKERFILE.read_text()
    assert re.search(rf"^ARG BEAM_VERSION={re.escape(pinned)}$", dockerfile, flags=re.M)
    assert "apache/beam_python3.11_sdk:${BEAM_VERSION}" in dockerfile
    assert beam.__version__ == pinned


def test_dockerfile_compiles_the_mapping_modules_with_the_pinned_cython():
    # pyproject.toml's build requirements pin Cython for every `pip install .`; the image the same.
    build_requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    [pinned] = [
        requirement.removeprefix("Cython==") for requirement in build_requires if requirement.startswith("Cython==")
    ]
    dockerfile = DOCKERFILE.read_text()
    assert re.search(rf"^ARG CYTHON_VERSION={re.escape(pinned)}$", dockerfile, flags=re.M)
    assert re.search(r"^ENV PIP_NO_BUILD_ISOLATION=0$", dockerfile, flags=re.M)
    assert "COPY setup.py pyproject.toml MANIFEST.in ./" in dockerfile
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert {"domain/*.c", "domain/*.so", "build/"} <= set(ignored), "host builds must not reach the image"


def test_the_staged_sdist_holds_every_source_setup_py_compiles(sdist_files):
    # Workers install the package again from the sdist the launcher stages (--setup_file).
    assert set(build_compiled_script().compiled_modules()) <= sdist_files
    assert {str(path.relative_to(REPO)) for path in (REPO / "domain").glob("*.pxd")} <= sdist_files
    assert "MANIFEST.in" in sdist_files


@pytest.mark.parametrize("job", sorted(JOBS))
def test_dockerfile_job_argument_names_a_launchable_job_file(job):
    dockerfile = DOCKERFILE.read_text()
    assert re.search(
        r"^ENV FLEX_TEMPLATE_PYTHON_PY_FILE=\$\{WORKDIR\}/beam_jobs/\$\{JOB\}\.py$", dockerfile, flags=re.M
    )
    source = (REPO / "beam_jobs" / f"{job}.py").read_text()
    assert 'if __name__ == "__main__":' in source


JSON_TYPES = (str, int, float, bool, list, dict, type(None))


@pytest.mark.parametrize("job", sorted(JOBS))
@pytest.mark.parametrize("extra", [[], ["--all_apps"]], ids=["values", "bare_flag"])
def test_every_option_survives_beams_option_serialization(job, extra):
    """Beam writes all options into the pipeline's proto (a protobuf Struct: JSON values only)
    before a runner gets the job: the local runners, Prism and Dataflow alike. What the job
    reads after that round trip is what it was given."""
    argv = ["--project=my-proj", *(f"--{name}={EXAMPLES[name][0]}" for name in _params(job)), *extra]
    options = PipelineOptions(argv)
    values = options.get_all_options(retain_unknown_options=True)
    assert {name: type(v) for name, v in values.items() if not isinstance(v, JSON_TYPES)} == {}
    struct = JobServiceHandle.encode_pipeline_options(values)  # what the DirectRunner and Prism send
    decoded = {key.removeprefix("beam:option:").removesuffix(":v1"): v for key, v in struct_to_dict(struct).items()}
    assert _job_values(job, PipelineOptions.from_dictionary(decoded)) == _job_values(job, options)


def _job_values(job: str, options: PipelineOptions) -> dict[str, Any]:
    """The values of the job's options, read as the job reads them (its class, or ImporterOptions)."""
    views = [options.view_as(OPTIONS_CLASSES[job]), options.view_as(ImporterOptions)]
    return {name: next(getattr(v, name) for v in views if hasattr(v, name)) for name in _params(job)}

"""The guides say what the code does: the README's reason codes and options tables, the files
they name, and every command they show (flags its program accepts, the flags it needs)."""

from __future__ import annotations

import argparse
import json
import re
import subprocess

import pytest

from schemas.reasons import Reason
from tests.support import REPO

README = REPO / "README.md"


def test_readme_reason_table_matches_the_enum():
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \| (\w+) \| (.+) \|$", README.read_text(), flags=re.M)
    documented = {code: (outcome, stage, text) for code, outcome, stage, text in rows}
    assert documented == {r.value: (r.outcome.value, r.stage, r.description) for r in Reason}


def test_readme_names_both_commands_and_the_summary_line():
    text = README.read_text()
    assert "./run_local.sh" in text and "./run_tests.sh" in text
    assert re.search(r"SUMMARY published=\d+ imported=\d+ duplicate=\d+ skipped=\d+ rejected=\d+", text)


def _flags(*classes) -> set[str]:
    flags = set()
    for cls in classes:  # a parser each: both jobs define --max_event_age, with their own defaults
        parser = argparse.ArgumentParser(add_help=False)
        cls._add_argparse_args(parser)
        flags |= {action.dest for action in parser._actions}
    return flags


def test_readme_options_table_lists_every_option_of_the_import_jobs():
    from beam_jobs.backfill import BackfillOptions
    from beam_jobs.options import ImporterOptions, InputFilesOptions
    from beam_jobs.segment_import import SegmentImportOptions

    table = README.read_text().split("| option | default | |", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"`--(\w+)`", table))
    assert documented == _flags(ImporterOptions, InputFilesOptions, SegmentImportOptions, BackfillOptions)


def _tracked_text_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [
        path
        for path in listed.split()
        if path.endswith(TEXT_SUFFIXES) or path.rsplit("/", 1)[-1] in ("Dockerfile", "run_local.sh", "run_tests.sh")
    ]


TEXT_SUFFIXES = (".md", ".py", ".pyx", ".pxd", ".sh", ".sql", ".toml", ".ini", ".yaml", ".yml", ".txt", ".cfg")
# A path of this repository as written in prose or code: a top folder, then a file with a
# known suffix (not preceded by a path, a word or a dot, so another repository's paths and
# f-strings built from a root are not taken for ours).
_NAMED_PATH = re.compile(
    r"(?<![\w/.{}-])((?:schemas|domain|adapters|transforms|beam_jobs|serving|tools|tests|bench|scripts|"
    r"dataflow|docs)/[\w./-]+?\.(?:pyx|pxd|py|json|sql|sh|md|yaml|toml|html))(?![\w/])"
)
_RULES_SECTION = re.compile(r"rules §(\d+)")


def test_every_file_named_in_a_tracked_file_exists():
    missing = []
    for path in _tracked_text_files():
        text = (REPO / path).read_text(errors="replace")
        missing += [
            f"{path}: {named}" for named in sorted(set(_NAMED_PATH.findall(text))) if not (REPO / named).exists()
        ]
    assert missing == []


def test_every_rules_section_cited_exists():
    sections = set(re.findall(r"^## §(\d+) ", (REPO / "docs" / "rules.md").read_text(), flags=re.M))
    assert sections == {str(n) for n in range(1, 12)}
    wrong = []
    for path in _tracked_text_files():
        cited = set(_RULES_SECTION.findall((REPO / path).read_text(errors="replace")))
        wrong += [f"{path}: rules §{n}" for n in sorted(cited - sections)]
    assert wrong == []


# Every guide that shows a command, and the jobs' docstrings (what --help prints).
GUIDES = [
    "README.md",
    "CONTRIBUTING.md",
    "dataflow/README.md",
    *(f"docs/{path.name}" for path in sorted((REPO / "docs").glob("*.md"))),
    *(f"beam_jobs/{job}.py" for job in ("segment_import", "backfill", "daily_export", "load_touches")),
]


def _job_parsers() -> dict[str, argparse.ArgumentParser]:
    from beam_jobs import backfill, daily_export, load_touches, segment_import

    return {
        f"beam_jobs.{m.__name__.rsplit('.', 1)[1]}": m.arg_parser()
        for m in (segment_import, backfill, daily_export, load_touches)
    }


def _cli_parsers() -> dict[str, argparse.ArgumentParser]:
    from beam_jobs.cli import build_parser

    def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return action.choices

    found = {}
    for name, parser in subcommands(build_parser()).items():
        if name == "webhook":
            found |= {f"segment-branch webhook {sub}": p for sub, p in subcommands(parser).items()}
        else:
            found[f"segment-branch {name}"] = parser
    return found


def _required(parser: argparse.ArgumentParser) -> list[set[str]]:
    """Each flag (or group of alternatives) a command cannot run without."""
    needed = [set(a.option_strings) for a in parser._actions if a.required and a.option_strings]
    needed += [
        {s for a in g._group_actions for s in a.option_strings} for g in parser._mutually_exclusive_groups if g.required
    ]
    return needed


@pytest.mark.parametrize("guide", GUIDES)
def test_every_command_a_guide_shows_uses_only_flags_its_program_accepts(guide):
    from tests.support.docs import commands

    parsers = {**_job_parsers(), **_cli_parsers()}
    shown = commands(REPO / guide)
    wrong = [
        f"{c.source}: {c.program} {flag}"
        for c in shown
        for flag in (c.flags if c.program in parsers else ["(no such command)"])
        if c.program not in parsers or flag not in parsers[c.program]._option_string_actions
    ]
    assert wrong == []


@pytest.mark.parametrize("guide", GUIDES)
def test_every_command_shown_to_run_carries_the_flags_it_needs(guide):
    """A command in a code block, not shortened with "...", runs as shown: the parser's required
    flags, and --project for a job (the BigQuery project)."""
    from tests.support.docs import commands

    parsers = {**_job_parsers(), **_cli_parsers()}
    missing = []
    for c in commands(REPO / guide):
        if not c.complete or c.program not in parsers:
            continue
        needed = _required(parsers[c.program]) + ([{"--project"}] if c.program.startswith("beam_jobs.") else [])
        missing += [f"{c.source}: {c.program} needs {' or '.join(sorted(n))}" for n in needed if not n & set(c.flags)]
    assert missing == []


@pytest.mark.parametrize("guide", ["dataflow/README.md", "docs/operations.md"])
def test_every_flex_template_parameter_a_guide_passes_is_declared(guide):
    from tests.support.docs import flex_template_parameters

    parsers = _job_parsers()
    shown = flex_template_parameters(REPO / guide)
    assert shown or guide != "dataflow/README.md"
    undeclared = []
    for source, job, names in shown:
        declared = {
            p["name"] for p in json.loads((REPO / "dataflow" / "metadata" / f"{job}.json").read_text())["parameters"]
        }
        beam = parsers[f"beam_jobs.{job}"]._option_string_actions  # a pipeline option: sdk_container_image
        undeclared += [f"{source}: {job} {name}" for name in names if name not in declared and f"--{name}" not in beam]
    assert undeclared == []


def test_the_doc_checks_see_the_commands_of_each_kind():
    """The extraction finds what the checks above are about (a silent miss would pass them)."""
    from tests.support.docs import commands

    programs = {c.program for guide in GUIDES for c in commands(REPO / guide)}
    assert {
        "beam_jobs.segment_import",
        "beam_jobs.backfill",
        "beam_jobs.daily_export",
        "beam_jobs.load_touches",
    } <= programs
    assert {
        "segment-branch map",
        "segment-branch provision",
        "segment-branch load-rates",
        "segment-branch replay",
    } <= programs
    assert {"segment-branch webhook test"} <= programs

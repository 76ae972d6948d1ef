"""The Cython-compiled mapping modules (setup.py ``COMPILED_MODULES``) against their sources.

The compiled form is what runs (bootstrap builds it in place; Dataflow images install it),
so the rest of the suite tests it; here: that it is in use, not stale, and decides exactly
what the pure Python modules decide, message by message (run in a child process that
imports the sources: an extension module next to its ``.py`` otherwise wins the import).
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson

from tests.build_script import build_compiled_script

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)
CORPUS_EVENTS = 4000


def _module_names(suffix: str = "") -> list[str]:
    """The compiled modules' dotted names (those whose source ends with ``suffix``)."""
    return [str(Path(name).with_suffix("")).replace("/", ".") for name in build_compiled_script().compiled_modules()
            if name.endswith(suffix)]


def _messages() -> list[tuple[bytes, dict[str, str] | None]]:
    from segment_branch.bad_inputs import bad_input_corpus
    from segment_branch.samples import generate_corpus, generate_sample

    messages: list[tuple[bytes, dict[str, str] | None]] = [
        (data, None) for data in generate_corpus(CORPUS_EVENTS, 11, NOW)]
    messages += [(m.data, m.attributes) for m in generate_sample(1200, 42, NOW, apps=(
        "key_live_local_default", "key_live_local_web"))]
    messages += [(case.data, dict(case.attributes)) for case in bad_input_corpus(NOW, ten_mb=200_000)]
    return messages


def _decisions() -> list[str]:
    """Every message's outcome under two settings, as ``repr`` (rows, warnings, details)."""
    from schemas.config import load_config
    from transforms.mapping import ImportSettings, process_message

    config = load_config(None)
    settings = [ImportSettings(config, max_event_age=None),
                ImportSettings(config, max_event_age=timedelta(hours=24))]
    publish_time = NOW - timedelta(seconds=30)
    return [repr(process_message(data, attributes, publish_time, each, NOW))
            for each in settings for data, attributes in _messages()]


class _SourcesFirst(importlib.abc.MetaPathFinder):
    """Imports the named modules from their ``.py`` files, whatever is built next to them."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, name, path, target=None):  # noqa: ANN001 - the finder protocol
        if name not in self.names:
            return None
        return importlib.util.spec_from_file_location(name, REPO / (name.replace(".", "/") + ".py"))


def test_mapping_modules_are_compiled() -> None:
    if os.environ.get("SEGMENT_BRANCH_PURE_PYTHON") == "1":
        for name in _module_names(".py"):
            assert importlib.import_module(name).__file__.endswith(".py"), name
        for name in _module_names(".pyx"):
            assert importlib.util.find_spec(name) is None, f"{name} is built: run scripts/build_compiled.py"
        return
    not_compiled = [name for name in _module_names()
                    if not importlib.import_module(name).__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))]
    assert not_compiled == [], "run scripts/bootstrap.sh (Cython build), or set SEGMENT_BRANCH_PURE_PYTHON=1"


def test_compiled_modules_are_not_older_than_their_sources() -> None:
    build_script = build_compiled_script()
    for name in build_script.compiled_modules():
        source = REPO / name
        for compiled in build_script.compiled_paths(source):
            assert compiled.stat().st_mtime >= build_script.newest_input(source), f"{compiled.name} is stale"


def test_generated_events_predicate_is_current_and_in_use() -> None:
    from schemas.tables import EVENTS, schema_fields
    from transforms.row_schema import EVENTS_VALIDATOR, predicate_module_source

    generated = (REPO / "transforms" / "events_row_predicate.py").read_text()
    assert generated == predicate_module_source(schema_fields(EVENTS)), "run scripts/generate_row_predicate.py"
    if os.environ.get("SEGMENT_BRANCH_PURE_PYTHON") == "1":  # the generated module's function
        assert EVENTS_VALIDATOR.fits.__qualname__ == "predicate.<locals>._valid_0"
        return
    from transforms.speedups import RowPredicate

    assert type(EVENTS_VALIDATOR.fits) is RowPredicate  # compiled: the same tests as a C loop


def test_compiled_and_pure_modules_decide_every_message_identically() -> None:
    child = subprocess.run([sys.executable, __file__, "--pure"], cwd=REPO, capture_output=True, check=True,
                           env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=600)
    pure = orjson.loads(child.stdout)
    compiled = _decisions()
    assert len(pure) == len(compiled) > 2 * CORPUS_EVENTS
    mismatches = [i for i, (a, b) in enumerate(zip(pure, compiled)) if a != b]
    assert mismatches == [], f"first mismatch:\npure     {pure[mismatches[0]]}\ncompiled {compiled[mismatches[0]]}"
    # The comparison covers every kind of outcome, not just imports.
    assert sum("Outcome.IMPORTED" in d for d in compiled) > CORPUS_EVENTS
    assert sum("Reason.SCHEMA_VIOLATION" in d or "Reason.MALFORMED_JSON" in d for d in compiled) > 10


if __name__ == "__main__" and sys.argv[1:] == ["--pure"]:
    sys.meta_path.insert(0, _SourcesFirst(set(_module_names(".py"))))
    for c_only in _module_names(".pyx"):  # C-only modules: their importers take their pure forms
        sys.modules[c_only] = None
    from transforms import mapping

    assert mapping.__file__.endswith(".py") and mapping.process_message.__code__.co_filename.endswith(".py")
    assert mapping.has_long_number is mapping._has_long_number
    from transforms import timestamps

    assert timestamps.to_bq_timestamp is timestamps._to_bq_timestamp
    from transforms.row_schema import EVENTS_VALIDATOR

    assert EVENTS_VALIDATOR.fits.__qualname__ == "predicate.<locals>._valid_0"  # the generated module's
    sys.stdout.buffer.write(orjson.dumps(_decisions()))

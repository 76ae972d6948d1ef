"""The compiled build (scripts/build_compiled.py) decides every message exactly as the pure
source does: rows, warnings, reasons and details, message by message.

Each form runs in a child process of its own, from the same checkout: the pure one with the
checkout on the path, the compiled one through scripts/with_compiled.sh.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import orjson

from tests.support import REPO

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
CORPUS_EVENTS = 4000


def decisions() -> list[str]:
    """Every message's outcome under two settings, as ``repr`` (rows, warnings, details)."""
    from domain.config import load_config
    from domain.mapping import ImportSettings, process_message
    from domain.speedups import COMPILED
    from tools.bad_inputs import bad_input_corpus
    from tools.samples import generate_corpus, generate_sample

    messages: list[tuple[bytes, dict[str, str] | None]] = [
        (data, None) for data in generate_corpus(CORPUS_EVENTS, 11, NOW)
    ]
    messages += [
        (m.data, m.attributes)
        for m in generate_sample(1200, 42, NOW, apps=("key_live_local_default", "key_live_local_web"))
    ]
    messages += [(case.data, dict(case.attributes)) for case in bad_input_corpus(NOW, ten_mb=200_000)]
    config = load_config(None)
    settings = [ImportSettings(config, max_event_age=None), ImportSettings(config, max_event_age=timedelta(hours=24))]
    publish_time = NOW - timedelta(seconds=30)
    return [repr(COMPILED)] + [
        repr(process_message(data, attributes, publish_time, each, NOW))
        for each in settings
        for data, attributes in messages
    ]


def _child(*wrapper: str) -> list[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONSAFEPATH", "SEGMENT_BRANCH_EXPECT_COMPILED")
    }
    code = (
        "import sys, orjson; from tests.unit.test_compiled_form import decisions; "
        "sys.stdout.buffer.write(orjson.dumps(decisions()))"
    )
    child = subprocess.run([*wrapper, sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, timeout=900)
    assert child.returncode == 0, child.stderr.decode()[-3000:]
    return orjson.loads(child.stdout)


def test_compiled_and_pure_forms_decide_every_message_identically():
    pure = _child()
    compiled = _child(str(REPO / "scripts" / "with_compiled.sh"))
    assert (pure[0], compiled[0]) == ("False", "True")  # each child ran the form it was meant to
    pure, compiled = pure[1:], compiled[1:]
    assert len(pure) == len(compiled) > 2 * CORPUS_EVENTS
    mismatches = [i for i, (a, b) in enumerate(zip(pure, compiled, strict=True)) if a != b]
    assert mismatches == [], f"first mismatch:\npure     {pure[mismatches[0]]}\ncompiled {compiled[mismatches[0]]}"
    # The comparison covers every kind of outcome, not just imports.
    assert sum("Outcome.IMPORTED" in d for d in compiled) > CORPUS_EVENTS
    assert sum("Reason.SCHEMA_VIOLATION" in d or "Reason.MALFORMED_JSON" in d for d in compiled) > 10

"""Coverage-guided fuzzing of process_message with atheris (run by scripts/fuzz.sh when
ATHERIS_RUNS is set; not collected by pytest). An exception, or the outcome internal_error
(a bug the failsafe caught), is a crash atheris reports."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import atheris

with atheris.instrument_imports():
    from domain.config import load_config
    from domain.mapping import ImportSettings, MappingOutcome, process_message
    from schemas.reasons import Reason

SETTINGS = ImportSettings(load_config(), max_payload_bytes=4096)
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ATTRIBUTES = [None, {"branch_key": "key_live_local_web"}, {"branch_key": "nobody"}]


def one_input(data: bytes) -> None:
    attributes = ATTRIBUTES[data[0] % 3] if data else None
    result = process_message(data[1:], attributes, None, SETTINGS, NOW)
    assert isinstance(result, MappingOutcome)
    assert (result.reason is None) == (result.row is not None), result
    assert result.reason is not Reason.INTERNAL_ERROR, result.detail


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()

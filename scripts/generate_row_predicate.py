"""Write transforms/events_row_predicate.py from the events table schema (after a schema change).

    .venv/bin/python scripts/generate_row_predicate.py

Reads ``transforms/row_schema.py`` from its source, not a compiled module built from an
older version of it (an extension module next to its ``.py`` wins a plain import).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from schemas.tables import EVENTS, schema_fields  # noqa: E402


def _row_schema_source_module():
    spec = importlib.util.spec_from_file_location("row_schema_source", REPO / "transforms" / "row_schema.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    target = REPO / "transforms" / "events_row_predicate.py"
    target.write_text(_row_schema_source_module().predicate_module_source(schema_fields(EVENTS)))
    print(f"wrote {target.relative_to(REPO)}")

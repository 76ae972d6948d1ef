"""Write transforms/events_row_predicate.py from the events table schema (after a schema change).

    .venv/bin/python scripts/generate_row_predicate.py
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from schemas.tables import EVENTS, schema_fields  # noqa: E402
from transforms.row_schema import predicate_module_source  # noqa: E402

if __name__ == "__main__":
    target = REPO / "transforms" / "events_row_predicate.py"
    target.write_text(predicate_module_source(schema_fields(EVENTS)))
    print(f"wrote {target.relative_to(REPO)}")

"""Run ``bqemulator`` without its automatic time-travel snapshots.

Run with the emulator's own interpreter (``.local/bqemulator-venv/bin/python``), with the
same arguments as the ``bqemulator`` command, e.g. ``... without_time_travel.py start ...``.

bqemulator 1.4.0 copies a *whole table* into a new snapshot table after every write to it
(``SnapshotManager.record_change`` -> ``capture(kind="AUTO")``, kept 7 days by default) so
that ``FOR SYSTEM_TIME AS OF`` can be answered. Under streaming inserts (one insertAll per
10-message bundle locally) that is one full copy of ``events`` per bundle: memory and time
grow with the square of the rows streamed (5,000 rows in batches of 10: 2.2 GB RSS instead
of ~0.24 GB). Nothing in this project reads time travel, so this launcher turns the AUTO
snapshots off; ``CREATE SNAPSHOT TABLE`` (kind USER) and the ``TableDataChanged`` events
that materialized views follow still work. Queries with ``FOR SYSTEM_TIME AS OF`` then
read the live table.

tools.localstack starts the emulator this way when asked for
``time_travel=False``; the emulator version is pinned in scripts/bqemulator-requirements.txt,
and this file fails loudly if the patched method is not where 1.4.0 has it.
"""

from __future__ import annotations

import inspect
import sys

from bqemulator.cli import main
from bqemulator.versioning.snapshots import SnapshotManager

_capture = SnapshotManager.capture
if list(inspect.signature(_capture).parameters) != ["self", "project_id", "dataset_id", "table_id", "kind"]:
    raise SystemExit(
        f"without_time_travel.py: unexpected SnapshotManager.capture{inspect.signature(_capture)}; "
        "bqemulator changed, update this launcher"
    )


def _capture_user_snapshots_only(self, project_id, dataset_id, table_id, *, kind="AUTO"):
    """``SnapshotManager.capture`` that skips the automatic (AUTO) per-write snapshots."""
    if kind == "AUTO":
        return None
    return _capture(self, project_id, dataset_id, table_id, kind=kind)


SnapshotManager.capture = _capture_user_snapshots_only

if __name__ == "__main__":
    sys.argv[0] = "bqemulator"
    sys.exit(main())

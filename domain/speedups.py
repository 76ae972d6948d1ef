"""The hot helpers of the mapping, compiled or pure: the one place that picks between them.

``_fast.pyx`` (Cython) and ``_slow.py`` (pure Python) have the same API; the compiled one
is used when the package was built with it (setup.py compiles it together with the domain
modules, all or none). See docs/compiled.md.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING

# Built by setup.py, never in a development checkout (docs/compiled.md).
COMPILED = find_spec("domain._fast") is not None

if TYPE_CHECKING or not COMPILED:
    from domain._slow import (
        RowPredicate,
        bq_timestamp_of,
        has_long_number,
        segment_text,
        segment_timestamp,
        to_bq_timestamp,
        without_nulls,
    )
else:
    from domain._fast import (
        RowPredicate,
        bq_timestamp_of,
        has_long_number,
        segment_text,
        segment_timestamp,
        to_bq_timestamp,
        without_nulls,
    )

__all__ = [
    "COMPILED",
    "RowPredicate",
    "bq_timestamp_of",
    "has_long_number",
    "segment_text",
    "segment_timestamp",
    "to_bq_timestamp",
    "without_nulls",
]

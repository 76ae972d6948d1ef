"""The hot helpers of the mapping, compiled or pure: the one place that picks between them.

``_fast.pyx`` (Cython) and ``_slow.py`` (pure Python) have the same API; the compiled one
is used when the package was built with it (setup.py compiles it together with the mapping
modules, all or none). See docs/compiled.md.
"""
from __future__ import annotations

try:
    from domain import _fast as _impl  # type: ignore[attr-defined]
except ImportError:  # a pure install, or a development checkout
    from domain import _slow as _impl

COMPILED: bool = _impl.__name__ == "domain._fast"

has_long_number = _impl.has_long_number
to_bq_timestamp = _impl.to_bq_timestamp
segment_timestamp = _impl.segment_timestamp
segment_text = _impl.segment_text
bq_timestamp_of = _impl.bq_timestamp_of
RowPredicate = _impl.RowPredicate

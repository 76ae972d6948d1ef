"""``scripts/build_compiled.py`` for the tests, imported without importing ``transforms``
(tests/test_compiled.py's child process must import the mapping modules itself, afterwards)."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def build_compiled_script() -> ModuleType:
    """The compiled modules' list (``compiled_modules``) and built files (``compiled_paths``)."""
    path = Path(__file__).resolve().parent.parent / "scripts" / "build_compiled.py"
    spec = importlib.util.spec_from_file_location("build_compiled", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

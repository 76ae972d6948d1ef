"""Helpers shared by the tests (never imported from conftest.py, which holds fixtures only)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def build_compiled_script():
    """``scripts/build_compiled.py`` as a module (its ``compiled_modules()``: setup.py's list)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_compiled", REPO / "scripts" / "build_compiled.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

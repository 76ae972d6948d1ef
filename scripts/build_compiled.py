"""Keep the in-place compiled mapping modules in step with their sources (run by bootstrap.sh).

An extension module next to its ``.py`` wins the import, so a stale one would run old code:
this rebuilds whenever a source (or its ``.pxd`` declarations) is newer than its compiled
module (Cython and setuptools then rebuild only what changed). With
``SEGMENT_BRANCH_PURE_PYTHON=1`` it removes them, so the checkout runs the pure modules.
"""
from __future__ import annotations

import ast
import importlib.machinery
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def compiled_modules() -> list[str]:
    """setup.py's ``COMPILED_MODULES`` (read, not imported: importing setup.py runs setup())."""
    for node in ast.parse((REPO / "setup.py").read_text()).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["COMPILED_MODULES"]:
            return ast.literal_eval(node.value)
    raise SystemExit("setup.py defines no COMPILED_MODULES")


def compiled_paths(source: Path) -> list[Path]:
    """The extension modules built next to a source file (none when it runs pure)."""
    stem = source.with_suffix("")
    return [Path(f"{stem}{suffix}") for suffix in importlib.machinery.EXTENSION_SUFFIXES
            if Path(f"{stem}{suffix}").exists()]


def newest_input(source: Path) -> float:
    """The last change to what a module compiles from: its source, its ``.pxd`` declarations
    and the ``.pxd`` files those cimport (``from transforms.values cimport ...``)."""
    inputs = [source]
    declarations = source.with_suffix(".pxd")
    if declarations.exists():
        inputs.append(declarations)
        for name in re.findall(r"^from transforms\.(\w+) cimport", declarations.read_text(), flags=re.M):
            inputs.append(source.parent / f"{name}.pxd")
    return max(path.stat().st_mtime for path in inputs)


def main() -> int:
    sources = [REPO / name for name in compiled_modules()]
    if os.environ.get("SEGMENT_BRANCH_PURE_PYTHON") == "1":
        for source in sources:
            for compiled in compiled_paths(source):
                compiled.unlink()
        return 0
    stale = [source for source in sources
             if min((c.stat().st_mtime for c in compiled_paths(source)), default=0) < newest_input(source)]
    if not stale:
        return 0
    print(f"build_compiled: compiling {len(stale)} mapping module(s) with Cython", file=sys.stderr)
    return subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=REPO).returncode


if __name__ == "__main__":
    sys.exit(main())

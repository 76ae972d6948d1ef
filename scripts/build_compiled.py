"""Build the compiled ``domain`` package beside the checkout, keyed to its sources; print where.

    .venv/bin/python scripts/build_compiled.py        # prints .local/compiled/<key>

The checkout itself is never compiled in place: an extension module next to its ``.py``
wins the import, so an edited source could have no effect. This builds the package, with
setup.py's ``COMPILED_MODULES`` compiled, into ``.local/compiled/<key>/domain``, where
``<key>`` hashes setup.py and every file of ``domain/``: an edited source has a new key, so
a stale build is never used. An existing build is reused at no cost. ``scripts/with_compiled.sh``
runs a command with that build first on the path (see docs/compiled.md).
"""

from __future__ import annotations

import ast
import hashlib
import os
import shutil
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "domain"
BUILDS = REPO / ".local" / "compiled"
COMPLETE = ".complete"


def compiled_modules() -> list[str]:
    """setup.py's ``COMPILED_MODULES`` (read, not imported: importing setup.py runs setup())."""
    for node in ast.parse((REPO / "setup.py").read_text()).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["COMPILED_MODULES"]:
            return ast.literal_eval(node.value)
    raise SystemExit("setup.py defines no COMPILED_MODULES")


def _sources() -> list[Path]:
    return sorted(
        path
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and not path.name.endswith((".c", *EXTENSION_SUFFIXES))
    )


def source_key() -> str:
    digest = hashlib.sha256()
    for path in [REPO / "setup.py", *_sources()]:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build(target: Path) -> None:
    staging = target.with_name(f"{target.name}.staging-{os.getpid()}")
    env = {k: v for k, v in os.environ.items() if k != "SEGMENT_BRANCH_PURE_PYTHON"}
    subprocess.run(
        [
            sys.executable,
            "setup.py",
            "-q",
            "build_ext",
            "--build-lib",
            str(staging),
            "--build-temp",
            str(REPO / "build" / "temp-compiled"),
        ],
        cwd=REPO,
        env=env,
        check=True,
    )
    for source in _sources():
        copy = staging / source.relative_to(REPO)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, copy)
    missing = [
        name
        for name in compiled_modules()
        if not any((staging / name).with_suffix(suffix).exists() for suffix in EXTENSION_SUFFIXES)
    ]
    if missing:
        shutil.rmtree(staging, ignore_errors=True)
        raise SystemExit(f"build_compiled: not compiled: {', '.join(missing)} (is Cython installed, and a C compiler?)")
    (staging / COMPLETE).touch()
    staging.rename(target)


def main() -> int:
    target = BUILDS / source_key()
    if not (target / COMPLETE).exists():
        print(f"build_compiled: compiling the domain modules into {target.relative_to(REPO)}", file=sys.stderr)
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        build(target)
        for other in BUILDS.iterdir():  # builds of older sources are never used again
            if other != target:
                shutil.rmtree(other, ignore_errors=True)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())

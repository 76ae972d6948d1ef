"""Build the compiled ``domain`` package beside the checkout, keyed to its sources; print where.

    .venv/bin/python scripts/build_compiled.py        # prints .local/compiled/<key>

The checkout itself is never compiled in place: an extension module next to its ``.py``
wins the import, so an edited source could have no effect. This installs the checkout as a
user would, ``pip install --no-deps .`` into a fresh virtualenv (pip's isolated build, with
the Cython pyproject.toml names: what a Dataflow worker's install of the staged sdist does),
and keeps that install's ``domain`` package in ``.local/compiled/<key>/domain``, where
``<key>`` hashes setup.py, pyproject.toml and every file of ``domain/``: an edited source has
a new key, so a stale build is never used. An existing build is reused at no cost.
``scripts/with_compiled.sh`` runs a command with that build first on the path, and the
compiled unit tier fails unless every module of setup.py's ``COMPILED_MODULES`` is an
extension module there (docs/compiled.md).
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
    for path in [REPO / "setup.py", REPO / "pyproject.toml", *_sources()]:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build(target: Path) -> None:
    staging = target.with_name(f"{target.name}.staging-{os.getpid()}")
    venv = staging / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("SEGMENT_BRANCH_PURE_PYTHON", "PYTHONPATH")}
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps", "--no-input", str(REPO)],
        cwd=staging,
        env=env,
        check=True,
    )
    [site_packages] = venv.glob("lib/python*/site-packages")
    shutil.copytree(site_packages / "domain", staging / "domain")
    missing = [
        name
        for name in compiled_modules()
        if not any((staging / name).with_suffix(suffix).exists() for suffix in EXTENSION_SUFFIXES)
    ]
    if missing:
        shutil.rmtree(staging, ignore_errors=True)
        raise SystemExit(f"build_compiled: `pip install .` did not compile: {', '.join(missing)} (a C compiler?)")
    shutil.rmtree(venv)
    (staging / COMPLETE).touch()
    staging.rename(target)


def main() -> int:
    target = BUILDS / source_key()
    if not (target / COMPLETE).exists():
        print(f"build_compiled: `pip install .` in a fresh venv, for {target.relative_to(REPO)}", file=sys.stderr)
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

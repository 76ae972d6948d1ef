"""The package tree is the architecture: each folder one layer, no layer imports a higher
one, the domain imports no Beam, Google or web framework, nothing installed imports the
development tools, and there are no import cycles.

    schemas < domain < adapters < transforms < beam_jobs < serving
"""

from __future__ import annotations

import ast
import graphlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO

LAYERS = ("schemas", "domain", "adapters", "transforms", "beam_jobs", "serving")
DEV_PACKAGES = ("tools", "tests", "bench", "scripts")
# Third-party packages a layer must not import (besides every higher layer).
FORBIDDEN = {
    "schemas": {"apache_beam", "google", "fastapi", "starlette", "uvicorn", "pydantic", "orjson", "yaml"},
    "domain": {"apache_beam", "google", "fastapi", "starlette", "uvicorn"},
    "adapters": {"fastapi", "starlette", "uvicorn"},
    "transforms": {"fastapi", "starlette", "uvicorn"},
    "beam_jobs": {"fastapi", "starlette", "uvicorn"},
}
_CIMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+cimport|cimport\s+([\w.]+))", re.M)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> list[Path]:
    return sorted(
        path
        for layer in LAYERS
        for path in (REPO / layer).rglob("*")
        if path.suffix in (".py", ".pyx", ".pxd") and "__pycache__" not in path.parts
    )


def _imports(path: Path) -> set[str]:
    """Every name a source imports, at any depth (a lazy import is still a dependency):
    ``import a.b`` gives ``a.b``; ``from a import b`` gives ``a`` and ``a.b``."""
    text = path.read_text()
    if path.suffix != ".py":  # Cython: cimports and imports
        return {a or b for a, b in _CIMPORT.findall(text)} | set(
            re.findall(r"^\s*from\s+([\w.]+)\s+import", text, re.M)
        )
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: use absolute imports"
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


SOURCES = {_module_name(path): _imports(path) for path in _sources()}


def _dependencies(module: str) -> set[str]:
    """The project's modules ``module`` imports (``from a.b import f`` depends on ``a.b``)."""
    found = set()
    for name in SOURCES[module]:
        target = name if name in SOURCES else name.rsplit(".", 1)[0]
        if target in SOURCES and target != module:
            found.add(target)
    return found


def test_the_layers_are_the_installed_packages():
    installed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import setuptools, sys; sys.argv = ['setup.py', '--name'];"
            "print(sorted({p.split('.')[0] for p in setuptools.find_packages(include=['*'])}))",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert set(LAYERS) < set(ast.literal_eval(installed))
    assert {p.name for p in REPO.iterdir() if (p / "__init__.py").exists()} == {*LAYERS, *DEV_PACKAGES} - {"scripts"}


@pytest.mark.parametrize("layer", LAYERS)
def test_no_module_imports_a_higher_layer_or_a_development_tool(layer):
    higher = set(LAYERS[LAYERS.index(layer) + 1 :])
    wrong = {
        module: sorted(name for name in imports if name.split(".")[0] in higher | set(DEV_PACKAGES))
        for module, imports in SOURCES.items()
        if module.split(".")[0] == layer
    }
    assert {module: names for module, names in wrong.items() if names} == {}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_none_of_its_forbidden_libraries(layer):
    wrong = {
        module: sorted(name for name in imports if name.split(".")[0] in FORBIDDEN[layer])
        for module, imports in SOURCES.items()
        if module.split(".")[0] == layer
    }
    assert {module: names for module, names in wrong.items() if names} == {}


def test_there_are_no_import_cycles():
    graph = {module: _dependencies(module) for module in SOURCES}
    assert graph["transforms.routing"] >= {"transforms.map_messages", "domain.mapping"}  # the graph is real
    try:
        list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_the_check_sees_an_upward_import(tmp_path):
    # The control for the tests above: a domain module importing Beam and a transform is caught.
    bad = tmp_path / "bad.py"
    bad.write_text("import apache_beam as beam\nfrom transforms.routing import RouteSegmentMessages\n")
    imports = _imports(bad)
    assert {"apache_beam", "transforms.routing"} <= imports
    assert {name.split(".")[0] for name in imports} & FORBIDDEN["domain"]


def test_the_sdist_workers_install_holds_the_layers_and_no_development_tool(sdist_files):
    packages = {name.split("/")[0] for name in sdist_files if "/" in name and ".egg-info" not in name}
    assert packages == set(LAYERS)
    assert not [name for name in sdist_files if name.split("/")[0] in DEV_PACKAGES]


def test_the_export_api_does_not_load_beam():
    """The service reads the Daily Export's manifests through adapters.export_store, so it needs no Beam."""
    code = "import sys, serving.export; assert 'apache_beam' not in sys.modules, 'Beam loaded'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])

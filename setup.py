"""Segment -> Branch event importer: an Apache Beam pipeline and its serving layer.

Installed on every Dataflow worker (``--setup_file``) so workers run the same code as the
launcher; the Beam version is pinned to the SDK container the Flex Template uses.

The domain modules that run on every event (``COMPILED_MODULES``) are compiled with Cython
(a build requirement in pyproject.toml, so ``pip install .`` has it): the same source, a
third less CPU per event. Without a C compiler, or with ``SEGMENT_BRANCH_PURE_PYTHON=1``, the
package installs as pure Python and behaves the same. Development checkouts are never compiled in place
(scripts/build_compiled.py builds beside them): see docs/compiled.md.
"""

import os
import sys

import setuptools
from setuptools.command.build_ext import build_ext

BEAM_VERSION = "2.77.0"

# Domain modules only (no Beam, no DoFns): compiled functions and classes pickle by reference.
COMPILED_MODULES = [
    "domain/mapping.py",
    "domain/decoder.py",
    "domain/properties.py",
    "domain/identifiers.py",
    "domain/values.py",
    "domain/timestamps.py",
    "domain/row_schema.py",
    "domain/event_names.py",
    "domain/currencies.py",
    "domain/attribution.py",
    "domain/touches.py",
    "domain/replay.py",
    "domain/keyed_replay.py",
    "domain/export_files.py",
    "domain/_fast.pyx",  # C forms of hot helpers; domain/_slow.py is its pure twin
]


class OptionalBuildExt(build_ext):
    """Compile when possible; a failed compile (no C compiler) leaves the pure modules.

    All or none: the compiled modules call each other's C functions (their ``.pxd``
    cimports), so one that failed to build would break the import of those built, and the
    built ones are removed too.
    """

    def run(self) -> None:
        self._failed = []
        try:
            super().run()
        except Exception as error:  # noqa: BLE001 - any build failure means "stay pure Python"
            self._failed.append(f"{error}")
        if self._failed:
            for ext in self.extensions:
                built = self.get_ext_fullpath(ext.name)
                if os.path.exists(built):
                    os.remove(built)
            print(
                f"WARNING: compiled mapping modules not built ({'; '.join(self._failed)}); using pure Python",
                file=sys.stderr,
            )

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as error:  # noqa: BLE001
            self._failed.append(f"{ext.name}: {error}")


def compiled_extensions() -> list:
    if os.environ.get("SEGMENT_BRANCH_PURE_PYTHON") == "1":
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        return []
    # The generated C goes to build/, never beside the sources.
    return cythonize(COMPILED_MODULES, language_level=3, quiet=True, build_dir="build/cython")


setuptools.setup(
    name="segment-branch-importer",
    version="0.1.0",
    description="Imports Segment track events from Pub/Sub into Branch-compatible BigQuery tables.",
    python_requires=">=3.10",
    packages=setuptools.find_packages(
        include=["schemas*", "domain*", "adapters*", "transforms*", "beam_jobs*", "serving*"]
    ),
    package_data={
        "schemas": ["bigquery/*.json", "sql/*.sql"],
        "domain": ["*.yaml", "data/*.csv"],
        "serving": ["templates/*", "static/*"],
    },
    install_requires=[
        f"apache-beam[gcp]=={BEAM_VERSION}",
        # Used directly (provisioning, the emulator client, the local runner), not only
        # through Beam: declared at the versions Beam's gcp extra resolves to.
        "google-cloud-bigquery==3.47.0",
        "google-cloud-pubsub==2.44.0",
        "google-cloud-secret-manager==2.32.0",  # webhook signing secrets (secret_manager references)
        "objsize==0.7.1",  # its settings (transforms/state_cache.py): Beam's state cache weighs with it
        "orjson==3.13.0",
        "pydantic==2.14.4",
        "PyYAML==6.0.4",
        "requests==2.34.2",  # webhook deliveries (adapters/webhook_delivery.py)
        "zstandard==0.25.0",  # the backfill's compressed batches (transforms/packing.py); Beam requires it too
    ],
    extras_require={
        # The serving layer (Query API, exports, status page); not needed on Dataflow workers.
        "serve": [
            "fastapi==0.165.0",
            "uvicorn==0.54.0",
            "python-multipart==0.0.34",
            "google-cloud-storage==3.17.1",  # V4 signed URLs of gs:// export files
            "tzdata==2026.6",  # the apps' timezones where the image has no system zoneinfo
        ],
        # Local runs, tests and benchmarks.
        "dev": [
            "fastapi==0.165.0",
            "uvicorn==0.54.0",
            "python-multipart==0.0.34",
            "google-cloud-storage==3.17.1",
            "tzdata==2026.6",
            "httpx==0.28.1",
            "httpx2==2.17.0",  # what starlette.testclient uses (with httpx alone it warns: deprecated)
            "hypothesis==6.170.17",
            "pytest==9.2.0",
            "pytest-timeout==2.4.0",
            "tqdm==4.70.1",
            "pyinstrument==5.1.3",
            # Guard rails run by ./run_tests.sh (configured in pyproject.toml).
            "ruff==0.17.6",
            "mypy==2.4.1",
            "types-PyYAML==6.0.12.20261122",
            # Drives Debian's Chromium in the browser tests (its own browser download is not used).
            "playwright==1.65.2",
        ],
    },
    entry_points={"console_scripts": ["segment-branch=beam_jobs.cli:main"]},
    ext_modules=compiled_extensions(),
    cmdclass={"build_ext": OptionalBuildExt},
)

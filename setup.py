"""Segment -> Branch event importer: an Apache Beam pipeline and its serving layer.

Installed on every Dataflow worker (``--setup_file``) so workers run the same code as the
launcher; the Beam version is pinned to the SDK container the Flex Template uses.
"""
import setuptools

BEAM_VERSION = "2.77.0"

setuptools.setup(
    name="segment-branch-importer",
    version="0.1.0",
    description="Imports Segment track events from Pub/Sub into Branch-compatible BigQuery tables.",
    python_requires=">=3.10",
    packages=setuptools.find_packages(include=["beam_jobs*", "transforms*", "schemas*", "serving*", "segment_branch*"]),
    package_data={"schemas": ["*.json", "*.yaml", "bigquery/*.json", "sql/*.sql"], "serving": ["templates/*", "static/*"]},
    install_requires=[
        f"apache-beam[gcp]=={BEAM_VERSION}",
        "orjson==3.13.0",
        "pydantic==2.14.4",
        "PyYAML==6.0.4",
    ],
    extras_require={
        # The serving layer (Query API, exports, status page); not needed on Dataflow workers.
        "serve": [
            "fastapi==0.165.0",
            "uvicorn==0.54.0",
            "python-multipart==0.0.34",
        ],
        # Local runs, tests and benchmarks.
        "dev": [
            "fastapi==0.165.0",
            "uvicorn==0.54.0",
            "python-multipart==0.0.34",
            "httpx==0.28.1",
            "hypothesis==6.170.17",
            "pytest==9.2.0",
            "pytest-timeout==2.4.0",
            "tqdm==4.70.1",
            "pyinstrument==5.1.3",
            # Drives Debian's Chromium in the browser tests (its own browser download is not used).
            "playwright==1.65.2",
        ],
    },
    entry_points={"console_scripts": ["segment-branch=segment_branch.cli:main"]},
)

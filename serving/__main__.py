"""Start the serving app with uvicorn.

    python -m serving --project local-project --dataset segment_branch [--host 127.0.0.1] [--port 8080]

Talks to the BigQuery emulator when ``BIGQUERY_EMULATOR_HOST`` is set. App config:
``SEGMENT_BRANCH_APP_CONFIG`` (default: the bundled local config); exports:
``SEGMENT_BRANCH_EXPORT_DIR`` and ``SEGMENT_BRANCH_EXPORT_SIGNING_KEY`` (see serving.export).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import uvicorn

from serving.app import create_app
from serving.settings import ServingSettings


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", default=os.environ.get("SEGMENT_BRANCH_PROJECT", "local-project"))
    parser.add_argument("--dataset", default=os.environ.get("SEGMENT_BRANCH_DATASET", "segment_branch"))
    parser.add_argument("--app-config", default=os.environ.get("SEGMENT_BRANCH_APP_CONFIG") or None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    settings = ServingSettings(project=args.project, dataset=args.dataset, app_config_path=args.app_config)
    uvicorn.run(create_app(settings), host=args.host, port=args.port)


if __name__ == "__main__":
    main()

"""Serving-layer settings, from the environment (or passed explicitly in tests)."""

from __future__ import annotations

import dataclasses
import os
from functools import cached_property

from adapters.storage import load_app_config
from domain.config import ImporterConfig

# The cost cap of every query the service runs (rules §8): BigQuery fails a query that would
# bill more instead of running it. 10 GiB covers a 7-day range of a large app's partitions.
DEFAULT_MAX_BYTES_BILLED = 10 * 2**30


@dataclasses.dataclass(frozen=True)
class ServingSettings:
    project: str
    dataset: str
    app_config_path: str | None = None
    max_bytes_billed: int = DEFAULT_MAX_BYTES_BILLED
    use_rollups: bool = True  # answer from the rollup tables where they hold the request (rules §11)

    @classmethod
    def from_env(cls) -> ServingSettings:
        return cls(
            project=os.environ.get("SEGMENT_BRANCH_PROJECT", "local-project"),
            dataset=os.environ.get("SEGMENT_BRANCH_DATASET", "segment_branch"),
            app_config_path=os.environ.get("SEGMENT_BRANCH_APP_CONFIG") or None,
            max_bytes_billed=int(os.environ.get("SEGMENT_BRANCH_MAX_BYTES_BILLED") or DEFAULT_MAX_BYTES_BILLED),
            use_rollups=os.environ.get("SEGMENT_BRANCH_USE_ROLLUPS", "1") != "0",
        )

    @cached_property
    def config(self) -> ImporterConfig:
        return load_app_config(self.app_config_path)

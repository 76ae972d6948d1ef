"""Serving-layer settings, from the environment (or passed explicitly in tests)."""

from __future__ import annotations

import dataclasses
import os
from functools import cached_property

from adapters.storage import load_app_config
from domain.config import ImporterConfig


@dataclasses.dataclass(frozen=True)
class ServingSettings:
    project: str
    dataset: str
    app_config_path: str | None = None

    @classmethod
    def from_env(cls) -> ServingSettings:
        return cls(
            project=os.environ.get("SEGMENT_BRANCH_PROJECT", "local-project"),
            dataset=os.environ.get("SEGMENT_BRANCH_DATASET", "segment_branch"),
            app_config_path=os.environ.get("SEGMENT_BRANCH_APP_CONFIG") or None,
        )

    @cached_property
    def config(self) -> ImporterConfig:
        return load_app_config(self.app_config_path)

"""Settings for the throwaway services the attack tests start in process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.settings import Settings
from tests.helpers import ADMIN_KEY


def attack_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a throwaway service: its own SQLite file, the admin key above, no rate limit."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": f"sqlite:///{data_dir / 'facematch.db'}",
        "admin_api_key": ADMIN_KEY,
        "rate_limit_per_minute": 0,
        "inference_workers": 1,
        "inference_threads": 1,
        "template_key": None,
    }
    values.update(overrides)
    return Settings(**values)

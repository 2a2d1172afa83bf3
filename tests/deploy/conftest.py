"""Fixtures for the static deployment checks: the compose file, the Dockerfile, the env template."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.helpers import DOCKER


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    with (DOCKER / "docker-compose.yml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="session")
def dockerfile_text() -> str:
    return (DOCKER / "Dockerfile").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def env_example() -> dict[str, str]:
    """Every variable the template names, set or commented out (`# NAME=value`), with its value."""
    variables: dict[str, str] = {}
    for raw in (DOCKER / ".env.example").read_text(encoding="utf-8").splitlines():
        line = raw.lstrip("# ").strip()
        name, sep, value = line.partition("=")
        if sep and name.isupper() and name.replace("_", "").isalnum():
            variables[name] = value
    return variables

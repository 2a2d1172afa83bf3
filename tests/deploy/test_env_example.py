"""docker/.env.example documents exactly the real settings, and commits no secret."""

from __future__ import annotations

import re
import subprocess
import sys

import uvicorn

from app.settings import Settings
from tests.helpers import DOCKER, REPO

PREFIX = "FACEMATCH_"


def _uvicorn_options() -> set[str]:
    # uvicorn reads every command-line option from UVICORN_<OPTION> (click's auto_envvar_prefix).
    return {f"UVICORN_{param.name.upper()}" for param in uvicorn.main.params if param.name}


def _compose_variables() -> set[str]:
    text = (DOCKER / "docker-compose.yml").read_text(encoding="utf-8")
    return set(re.findall(r"\$\{([A-Z0-9_]+)", text))


def test_every_setting_is_documented(env_example: dict[str, str]) -> None:
    documented = {name for name in env_example if name.startswith(PREFIX)}
    fields = {PREFIX + name.upper() for name in Settings.model_fields}
    assert fields - documented == set()


def test_every_facematch_variable_is_a_real_setting(env_example: dict[str, str]) -> None:
    fields = {PREFIX + name.upper() for name in Settings.model_fields}
    assert {name for name in env_example if name.startswith(PREFIX)} - fields == set()


def test_every_other_variable_is_read_by_compose_or_uvicorn(env_example: dict[str, str]) -> None:
    known = _compose_variables() | _uvicorn_options()
    others = {name for name in env_example if not name.startswith(PREFIX)}
    assert others - known == set()


def test_no_secret_is_given_a_value(env_example: dict[str, str]) -> None:
    secrets = {
        PREFIX + name.upper()
        for name, info in Settings.model_fields.items()
        if "SecretStr" in str(info.annotation)
    }
    assert secrets, "Settings holds at least the admin key"
    for name in secrets | {"POSTGRES_PASSWORD"}:
        assert env_example[name] == "", name


def test_env_example_is_generated_from_the_current_settings() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "export_settings.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_container_paths_match_the_dockerfile(dockerfile_text: str) -> None:
    assert re.search(r"FACEMATCH_DATA_DIR=/data\b", dockerfile_text)
    assert re.search(r"FACEMATCH_MODEL_DIR=/models\b", dockerfile_text)
    assert 'VOLUME ["/data"]' in dockerfile_text

"""`facematch serve`'s admin key: generated once, private, reused."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from rich.console import Console

from app.cli.serve import ADMIN_KEY_FILE, ensure_admin_key
from app.settings import Settings

_ENV = "FACEMATCH_ADMIN_API_KEY"


@pytest.fixture(autouse=True)
def no_admin_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """ensure_admin_key exports the key (for uvicorn's worker processes); it must not leak into
    later tests. setenv first, so monkeypatch records the variable and removes whatever the test
    leaves: delenv(raising=False) on an unset variable records nothing to undo."""
    monkeypatch.setenv(_ENV, "set-by-fixture")
    monkeypatch.delenv(_ENV)


def test_first_start_generates_a_private_admin_key(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    ensure_admin_key(settings, Console(quiet=True))
    path = tmp_path / ADMIN_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().strip()) > 40


def test_second_start_reuses_the_key(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    ensure_admin_key(settings, Console(quiet=True))
    first = (tmp_path / ADMIN_KEY_FILE).read_text()
    ensure_admin_key(settings, Console(quiet=True))
    assert (tmp_path / ADMIN_KEY_FILE).read_text() == first


def test_a_configured_key_writes_no_file(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, admin_api_key="configured-key-123")  # type: ignore[call-arg]
    ensure_admin_key(settings, Console(quiet=True))
    assert not (tmp_path / ADMIN_KEY_FILE).exists()

"""`facematch serve`'s admin key: generated once, private, reused."""

from __future__ import annotations

import stat
from pathlib import Path

from rich.console import Console

from app.cli.serve import ADMIN_KEY_FILE, ensure_admin_key
from app.settings import Settings


def test_first_start_generates_a_private_admin_key(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("FACEMATCH_ADMIN_API_KEY", raising=False)
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    ensure_admin_key(settings, Console(quiet=True))
    path = tmp_path / ADMIN_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_text().strip()) > 40


def test_second_start_reuses_the_key(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("FACEMATCH_ADMIN_API_KEY", raising=False)
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    ensure_admin_key(settings, Console(quiet=True))
    first = (tmp_path / ADMIN_KEY_FILE).read_text()
    ensure_admin_key(settings, Console(quiet=True))
    assert (tmp_path / ADMIN_KEY_FILE).read_text() == first


def test_a_configured_key_writes_no_file(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, admin_api_key="configured-key-123")  # type: ignore[call-arg]
    ensure_admin_key(settings, Console(quiet=True))
    assert not (tmp_path / ADMIN_KEY_FILE).exists()

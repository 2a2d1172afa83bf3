"""SigV4 keys from the command line: `facematch keys create --kind sigv4`, and `facematch
rotate-key` re-sealing their secrets under a new at-rest key."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli import cli
from app.db.engine import create_db_engine
from app.db.template_codec import TemplateKeyring, key_id_of
from app.services import keys as key_service

OLD_KEY, NEW_KEY = bytes(32).hex(), bytes(range(32)).hex()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    monkeypatch.setenv("FACEMATCH_DATABASE_URL", url)
    for name in ("TEMPLATE_RETIRED_KEYS", "ADMIN_API_KEY"):
        monkeypatch.delenv(f"FACEMATCH_{name}", raising=False)
    monkeypatch.setenv("FACEMATCH_TEMPLATE_KEY", OLD_KEY)
    monkeypatch.setenv("FACEMATCH_TEMPLATE_KEY_ID", "old")
    return url


def test_create_a_sigv4_key_and_rotate_its_secret(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = CliRunner().invoke(cli, ["keys", "create", "--kind", "sigv4", "--role", "enroll"])
    assert created.exit_code == 0, created.output
    access_key_id, secret = created.stdout.split()[-2:]
    assert access_key_id.startswith("FMAK") and len(access_key_id) == 20

    monkeypatch.setenv("FACEMATCH_TEMPLATE_KEY", NEW_KEY)
    monkeypatch.setenv("FACEMATCH_TEMPLATE_KEY_ID", "new")
    monkeypatch.setenv("FACEMATCH_TEMPLATE_RETIRED_KEYS", f"old:{OLD_KEY}")
    rotated = CliRunner().invoke(cli, ["rotate-key"])
    assert rotated.exit_code == 0, rotated.output
    assert "re-sealed 1 SigV4 secret" in rotated.output

    engine = create_db_engine(env)
    new_only = key_service.SigV4Secrets(TemplateKeyring({"new": bytes(range(32))}, "new"), None)
    with Session(engine) as session:
        key = key_service.sigv4_key(session=session, access_key_id=access_key_id, sigv4=new_only)
        assert key is not None and key.secret == secret
        assert key.row.secret_box is not None and key_id_of(key.row.secret_box) == "new"
        assert key.row.role == "enroll"
    engine.dispose()


def test_sigv4_keys_need_an_at_rest_or_admin_key(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    monkeypatch.delenv("FACEMATCH_TEMPLATE_KEY")
    refused = CliRunner().invoke(cli, ["keys", "create", "--kind", "sigv4"])
    assert refused.exit_code != 0
    assert "FACEMATCH_TEMPLATE_KEY" in refused.output

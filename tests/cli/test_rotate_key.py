"""`facematch rotate-key` reads the keys from the environment and rewrites the database."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
import typer
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli import cli
from app.db.engine import create_db_engine
from app.db.migrate import upgrade_to_head
from app.db.models import Collection, Face, Identity
from app.db.template_codec import TemplateKeyring, encode_template, key_id_of

MODEL = "dlib-resnet-v1@0123abcd"
OLD_KEY, NEW_KEY = bytes(32).hex(), bytes(range(32)).hex()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade_to_head(url)
    engine = create_db_engine(url)
    old = TemplateKeyring({"old": bytes(32)}, "old")
    with Session(engine) as session:
        collection = Collection(name=f"c-{uuid.uuid4()}", model_id=MODEL)
        identity = Identity(collection=collection)
        session.add_all([collection, identity])
        session.flush()
        session.add(
            Face(
                identity_id=identity.id,
                collection_id=collection.id,
                model_id=MODEL,
                template=encode_template(np.ones(128, np.float32), model_id=MODEL, keyring=old),
                box={},
                quality={},
                content_sha256="0" * 64,
            )
        )
        session.commit()
    engine.dispose()
    for name in ("TEMPLATE_KEY", "TEMPLATE_KEY_ID", "TEMPLATE_RETIRED_KEYS"):
        monkeypatch.delenv(f"FACEMATCH_{name}", raising=False)
    monkeypatch.setenv("FACEMATCH_DATABASE_URL", url)
    return url


def _cli() -> typer.Typer:
    return cli  # the real `facematch` command line, as users run it


def _key_ids(url: str) -> set[str | None]:
    engine = create_db_engine(url)
    with Session(engine) as session:
        ids = {key_id_of(b) for b in session.scalars(sa.select(Face.template))}
    engine.dispose()
    return ids


def test_rotate_key_moves_templates_to_the_configured_key(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACEMATCH_TEMPLATE_KEY", NEW_KEY)
    monkeypatch.setenv("FACEMATCH_TEMPLATE_KEY_ID", "new")
    monkeypatch.setenv("FACEMATCH_TEMPLATE_RETIRED_KEYS", f"old:{OLD_KEY}")
    result = CliRunner().invoke(_cli(), ["rotate-key"])
    assert result.exit_code == 0, result.output
    assert "every template is now under new" in result.output
    assert _key_ids(database) == {"new"}


def test_rotate_key_without_the_old_key_fails_and_changes_nothing(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACEMATCH_TEMPLATE_KEY", NEW_KEY)
    monkeypatch.setenv("FACEMATCH_TEMPLATE_KEY_ID", "new")
    result = CliRunner().invoke(_cli(), ["rotate-key"])
    assert result.exit_code == 1
    assert "FACEMATCH_TEMPLATE_RETIRED_KEYS" in result.output
    assert _key_ids(database) == {"old"}


def test_rotate_key_refuses_a_malformed_key(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEMATCH_TEMPLATE_KEY", "not a key")
    result = CliRunner().invoke(_cli(), ["rotate-key"])
    assert result.exit_code == 2
    assert "invalid" in result.output

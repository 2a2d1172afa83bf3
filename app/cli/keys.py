"""`facematch keys create|list|revoke`: manage scoped API keys directly in the database."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from app.db.engine import create_db_engine, session_factory
from app.db.migrate import upgrade_to_head
from app.services import keys as key_service
from app.services.errors import ServiceError
from app.settings import Settings

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


def _sessions() -> sessionmaker[Session]:
    settings = Settings()
    upgrade_to_head(settings.effective_database_url)
    return session_factory(create_db_engine(settings.effective_database_url))


@keys_app.command("create")
def create(
    role: Annotated[str, typer.Option(help="identify, enroll or admin.")] = "identify",
    collection: Annotated[
        str | None, typer.Option(help="Collection id; leave out for a key to all collections.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="A label for the key.")] = None,
    kind: Annotated[
        str,
        typer.Option(help="api_key (X-API-Key) or sigv4 (access key id + secret, for boto3)."),
    ] = "api_key",
) -> None:
    """Create a key and print it (the only time it is shown).

    A sigv4 key prints two lines, the access key id and the secret access key, ready for
    `aws configure` or boto3's `aws_access_key_id` / `aws_secret_access_key`."""
    if role not in key_service.ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(key_service.ROLES)}")
    if kind not in key_service.KINDS:
        raise typer.BadParameter(f"kind must be one of {', '.join(key_service.KINDS)}")
    collection_id = uuid.UUID(collection) if collection else None
    with _sessions()() as session:
        try:
            if kind == "sigv4":
                row, secret = key_service.create_sigv4_key(
                    session=session,
                    role=role,
                    collection_id=collection_id,
                    name=name,
                    sigv4=key_service.SigV4Secrets.from_settings(Settings()),
                )
                shown = f"{row.access_key_id}\n{secret}"
            else:
                row, shown = key_service.create_key(
                    session=session, role=role, collection_id=collection_id, name=name
                )
        except ServiceError as exc:
            raise typer.BadParameter(exc.detail) from exc
    what = "access key id and secret" if kind == "sigv4" else "the key"
    Console(stderr=True).print(f"key id {row.id} (role {row.role}); {what}, shown once:")
    print(shown)


@keys_app.command("list")
def list_keys() -> None:
    """Every key (never the secrets)."""
    with _sessions()() as session:
        rows, _ = key_service.list_keys(session=session, limit=10_000, offset=0, collection_id=None)
    table = Table("id", "prefix", "role", "collection", "name", "last used", "revoked")
    for r in rows:
        table.add_row(
            str(r.id),
            r.access_key_id or r.prefix,
            r.role,
            str(r.collection_id or "*"),
            r.name or "",
            str(r.last_used_at or ""),
            str(r.revoked_at or ""),
        )
    Console().print(table)


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Revoke a key; it stops working at once."""
    with _sessions()() as session:
        try:
            key_service.revoke_key(session=session, key_id=uuid.UUID(key_id), scope=None)
        except ServiceError as exc:
            raise typer.BadParameter(exc.detail) from exc
    Console(stderr=True).print(f"revoked {key_id}")

"""`facematch rotate-key`: re-encrypt every stored template under the configured template key.

Procedure (SECURITY.md): set the new key as FACEMATCH_TEMPLATE_KEY with a new
FACEMATCH_TEMPLATE_KEY_ID, list the old one in FACEMATCH_TEMPLATE_RETIRED_KEYS, restart the service,
run this command, then drop the retired key. With no FACEMATCH_TEMPLATE_KEY it decrypts every
template back to plain float32 (switching encryption off). Safe to interrupt and re-run.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from app.db.engine import create_db_engine
from app.db.template_codec import TemplateKeyError, TemplateKeyring
from app.services.keys import reseal_sigv4_secrets
from app.services.template_rotation import RotationReport, count_by_key, rotate_templates
from app.settings import Settings


def rotate_key(
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Templates per transaction.")
    ] = 500,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would change; write nothing.")
    ] = False,
) -> None:
    """Re-encrypt every stored template under the current template key (or decrypt them all)."""
    console = Console()
    settings = Settings()
    try:
        keyring = TemplateKeyring.from_settings(settings)
    except ValueError as exc:
        console.print(f"[red]template key settings are invalid:[/red] {exc}")
        raise typer.Exit(2) from exc
    engine = create_db_engine(settings.effective_database_url)
    try:
        report = rotate_templates(
            engine, keyring=keyring, actor="cli", batch_size=batch_size, dry_run=dry_run
        )
        after = count_by_key(engine)
        if not dry_run:
            with Session(engine) as session:
                secrets = reseal_sigv4_secrets(session=session, keyring=keyring)
            console.print(f"re-sealed {secrets} SigV4 secret(s) under {report.target}")
    except TemplateKeyError as exc:
        console.print(
            f"[red]cannot read a stored template:[/red] {exc}. List the key it was sealed with in "
            "FACEMATCH_TEMPLATE_RETIRED_KEYS (id:key) and run again; nothing after it was changed."
        )
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    found = ", ".join(f"{key}: {n}" for key, n in sorted(report.before.items())) or "none"
    console.print(f"templates found by key: {found}")
    verb = "would rewrite" if dry_run else "rewrote"
    console.print(
        f"{verb} {report.rewritten if not dry_run else _pending(report)} of {report.scanned} "
        f"under {report.target}; {report.skipped_changed} changed concurrently and were left alone"
    )
    if not dry_run:
        stale = {key: n for key, n in after.items() if key != report.target}
        if stale:
            console.print(f"[yellow]still not under {report.target}:[/yellow] {stale}; re-run")
            raise typer.Exit(1)
        console.print(f"every template is now under {report.target}")


def _pending(report: RotationReport) -> int:
    return sum(n for key, n in report.before.items() if key != report.target)

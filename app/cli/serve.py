"""`facematch serve`: migrate, make sure an admin key exists, then run uvicorn."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from app.db.migrate import upgrade_to_head
from app.settings import Settings

ADMIN_KEY_FILE = "admin_api_key"


def ensure_admin_key(settings: Settings, console: Console) -> None:
    """With no FACEMATCH_ADMIN_API_KEY, use (or create, 0600) a random key in the data dir.

    There is deliberately no built-in default key: a fresh install gets its own secret.
    """
    if settings.admin_api_key is not None:
        return
    path = Path(settings.data_dir) / ADMIN_KEY_FILE
    if not path.exists():
        key = f"fm_admin_{secrets.token_urlsafe(32)}"
        # O_EXCL + 0600: never readable by others, never overwrites a key another process wrote.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        console.print(f"[bold]Generated an admin API key[/bold]; it is in {path.resolve()}")
    else:
        console.print(f"Admin API key: {path.resolve()}")
    # uvicorn builds the app from the environment (also in reload/worker processes).
    os.environ["FACEMATCH_ADMIN_API_KEY"] = path.read_text().strip()


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Apply migrations and serve the API (app.main:app)."""
    console = Console(stderr=True)
    settings = Settings()
    # The data dir holds the SQLite database (templates) and the admin key: owner only.
    Path(settings.data_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    upgrade_to_head(settings.effective_database_url)
    ensure_admin_key(settings, console)
    console.print(f"Serving on http://{host}:{port} (docs at /docs)")
    uvicorn.run("app.main:app", host=host, port=port, workers=workers, log_level="info")

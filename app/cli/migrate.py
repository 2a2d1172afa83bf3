"""`facematch migrate`: bring the database schema to the newest Alembic revision."""

from __future__ import annotations

from rich.console import Console

from app.db.migrate import upgrade_to_head
from app.settings import Settings


def migrate() -> None:
    """Apply every pending migration to FACEMATCH_DATABASE_URL (default: SQLite in the data dir)."""
    settings = Settings()
    upgrade_to_head(settings.effective_database_url)
    Console(stderr=True).print("database schema is up to date")

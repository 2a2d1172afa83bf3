"""Apply the Alembic migrations: the only way the schema comes into being."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config

from alembic import command
from app.db.engine import create_db_engine

REPO = Path(__file__).resolve().parents[2]
# Several workers may start at once against one PostgreSQL; only one migrates at a time.
_MIGRATION_LOCK = 0x4D494752  # "MIGR"


def alembic_config(database_url: str) -> Config:
    config = Config(str(REPO / "alembic.ini"))
    config.set_main_option("script_location", str(REPO / "alembic"))
    # Percent signs in passwords would otherwise be read as interpolation by configparser.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(database_url: str) -> None:
    config = alembic_config(database_url)
    if sa.make_url(database_url).get_backend_name() != "postgresql":
        command.upgrade(config, "head")
        return
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            connection.execute(sa.select(sa.func.pg_advisory_lock(_MIGRATION_LOCK)))
            try:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
            finally:
                connection.execute(sa.select(sa.func.pg_advisory_unlock(_MIGRATION_LOCK)))
                connection.commit()
    finally:
        engine.dispose()

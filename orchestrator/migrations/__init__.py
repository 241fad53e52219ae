"""The schema's Alembic migrations (every table of every layer) and `run_migrations`."""

from __future__ import annotations

from pathlib import Path

from orchestrator.core.db import ensure_sqlite_dir, sync_url


def run_migrations(url: str) -> None:
    """Bring the schema to head with Alembic (idempotent; safe to call at every start)."""
    from alembic import command
    from alembic.config import Config

    ensure_sqlite_dir(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent))
    cfg.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")

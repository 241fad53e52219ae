"""The schema's Alembic migrations (every table of every layer) and `run_migrations`."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from orchestrator.core.db import ensure_sqlite_dir, sync_url

VERSIONS = Path(__file__).parent / "versions"


def head_revision() -> str:
    """The newest revision, read from the file names: revisions are numbered in one line of history,
    each file named after its id (`0011_status_callback_data.py` is revision "0011"). A test checks
    this against Alembic's own reading of the scripts."""
    return max(path.name.split("_", 1)[0] for path in VERSIONS.glob("[0-9]*_*.py"))


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None when it has none yet (or cannot be read: Alembic
    then runs and reports what is wrong)."""
    engine = sa.create_engine(sync_url(url), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.DBAPIError:
        return None
    finally:
        engine.dispose()


def run_migrations(url: str) -> None:
    """Bring the schema to head with Alembic (idempotent; safe to call at every start). A database
    already at head, as on every start but the first, is left alone without loading Alembic (its
    modules, Mako's and the migration scripts stay out of the process's memory, 7–9 MB).

    That reading is safe beside processes starting together: the migrations run in one transaction
    under a lock (env.py: an advisory lock on PostgreSQL, the file's write lock on SQLite) and DDL
    is transactional on both, so a revision at head is read only once every table it names is
    committed; a process that reads an older revision (or none) takes the lock and waits for the
    one migrating. What processes do after migrating
    together (seeding reps, the checkpointer's setup) has locks of its own."""
    ensure_sqlite_dir(url)
    if current_revision(url) == head_revision():
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent))
    cfg.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")

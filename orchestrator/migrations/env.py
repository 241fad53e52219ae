"""Alembic environment: migrates the database named by the URL the caller set (see db.run_migrations)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlmodel import SQLModel

import handoff.models
import orchestrator.core.contextlog
import orchestrator.core.tables

target_metadata = SQLModel.metadata
_ = (handoff.models, orchestrator.core.contextlog, orchestrator.core.tables)  # register every table
SQLITE_LOCK_WAIT_S = 120.0


def run_migrations_offline() -> None:
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    section = context.config.get_section(context.config.config_ini_section, {})
    sqlite = section.get("sqlalchemy.url", "").startswith("sqlite")
    connectable = engine_from_config(
        section,
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
        # A process waiting for another's migrations waits this long for the file's write lock.
        connect_args={"timeout": SQLITE_LOCK_WAIT_S} if sqlite else {},
    )
    with connectable.connect() as connection:
        # Several processes may start at once (`handoff serve --workers N`): one migrates, the
        # others wait for it, then find the database at head (Alembic reads the revision inside
        # the transaction). PostgreSQL: an advisory lock. SQLite: the file's write lock, taken at
        # BEGIN; its DDL is transactional too, so a waiting process never sees half the tables.
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(727274)")
        elif connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        # The lock above began a transaction, which makes Alembic's begin_transaction() a no-op:
        # commit it here, or the migrations are rolled back when the connection closes.
        if connection.in_transaction():
            connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

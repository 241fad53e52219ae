"""The hand-written migration 0002 produces exactly the models' schema, on both databases, and
downgrades cleanly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import handoff.models
import orchestrator.core.tables
from orchestrator.core.db import sync_url

_ = (handoff.models, orchestrator.core.tables)


def _differences(url: str) -> list[Any]:
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"render_as_batch": True})
            return list(compare_metadata(context, SQLModel.metadata))
    finally:
        engine.dispose()


def _alembic(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option(
        "script_location", str(Path(__file__).resolve().parents[2] / "orchestrator" / "migrations")
    )
    cfg.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def test_migrations_produce_the_models_schema_on_sqlite(sqlite_url: str) -> None:
    assert _differences(sqlite_url) == []


@pytest.mark.postgres
def test_migrations_produce_the_models_schema_on_postgres(postgres_url: str) -> None:
    assert _differences(postgres_url) == []


def test_assignment_engine_migration_downgrades_and_upgrades_on_sqlite(sqlite_url: str) -> None:
    command.downgrade(_alembic(sqlite_url), "0001")
    assert _differences(sqlite_url) != []
    command.upgrade(_alembic(sqlite_url), "head")
    assert _differences(sqlite_url) == []


@pytest.mark.postgres
def test_assignment_engine_migration_downgrades_and_upgrades_on_postgres(postgres_url: str) -> None:
    command.downgrade(_alembic(postgres_url), "0001")
    assert _differences(postgres_url) != []
    command.upgrade(_alembic(postgres_url), "head")
    assert _differences(postgres_url) == []

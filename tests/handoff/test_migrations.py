"""The hand-written migrations produce exactly the models' schema, on both databases, downgrade
cleanly, and carry the data they reshape both ways."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import handoff.models
import orchestrator.core.tables
from orchestrator.core.db import sync_url
from orchestrator.migrations import VERSIONS, current_revision, head_revision, run_migrations
from tests.conftest import empty_postgres

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


def test_the_head_read_from_the_file_names_is_alembics_head() -> None:
    scripts = ScriptDirectory.from_config(_alembic("sqlite:///unused.db"))
    assert scripts.get_heads() == [head_revision()]
    for path in VERSIONS.glob("[0-9]*_*.py"):
        assert scripts.get_revision(path.name.split("_", 1)[0]) is not None, path.name


def _modules_after_migrating(url: str) -> list[str]:
    code = (
        "import json, sys; from orchestrator.migrations import run_migrations; "
        f"run_migrations({url!r}); print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return [m for m in json.loads(done.stdout) if m.split(".")[0] in ("alembic", "mako")]


def test_a_database_at_head_is_left_alone_without_loading_alembic(sqlite_url: str, tmp_path: Path) -> None:
    assert current_revision(sqlite_url) == head_revision()
    assert _modules_after_migrating(sqlite_url) == []
    # A new database has no revision: Alembic runs and brings it to head.
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert current_revision(fresh) is None
    run_migrations(fresh)
    assert current_revision(fresh) == head_revision()
    assert _differences(fresh) == []


@pytest.mark.postgres
def test_a_postgres_database_at_head_is_left_alone_and_one_behind_is_migrated(postgres_url: str) -> None:
    assert current_revision(postgres_url) == head_revision()
    assert _modules_after_migrating(postgres_url) == []
    command.downgrade(_alembic(postgres_url), "0010")
    assert current_revision(postgres_url) == "0010"
    assert _modules_after_migrating(postgres_url) != []  # Alembic ran, under its lock
    assert current_revision(postgres_url) == head_revision()
    assert _differences(postgres_url) == []


def _errors_of_processes_migrating_together(url: str, processes: int = 4) -> list[str]:
    """Run `run_migrations(url)` in `processes` OS processes at once: what those that failed printed."""
    code = f"from orchestrator.migrations import run_migrations; run_migrations({url!r})"
    starts = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE) for _ in range(processes)
    ]
    outcomes = [(p.communicate(timeout=120)[1], p.returncode) for p in starts]
    return [err.decode() for err, status in outcomes if status != 0]


@pytest.mark.postgres
def test_processes_starting_together_on_an_empty_postgres_schema_all_start_at_head(postgres_url: str) -> None:
    empty_postgres(postgres_url)
    assert _errors_of_processes_migrating_together(postgres_url) == []
    assert current_revision(postgres_url) == head_revision()
    assert _differences(postgres_url) == []


def test_processes_starting_together_on_a_new_sqlite_file_all_start_at_head(tmp_path: Path) -> None:
    # `handoff serve` started beside `handoff worker` or `handoff create-user` on a new file: each
    # process migrates at its start.
    url = f"sqlite:///{tmp_path / 'new.db'}"
    assert _errors_of_processes_migrating_together(url) == []
    assert current_revision(url) == head_revision()
    assert _differences(url) == []


def test_a_database_behind_head_is_migrated(sqlite_url: str) -> None:
    command.downgrade(_alembic(sqlite_url), "0010")
    assert current_revision(sqlite_url) == "0010"
    run_migrations(sqlite_url)
    assert current_revision(sqlite_url) == head_revision()
    assert _differences(sqlite_url) == []


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


def _seed_assignments(url: str) -> None:
    """At revision 0003: one assignment whose exclusions ride in the routing explanation, one without."""
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    contact = sa.table("contact", sa.column("id"), sa.column("wa_id"), sa.column("created_at"))
    conversation = sa.table(
        "conversation",
        *(sa.column(c) for c in ("id", "contact_id", "owner", "priority", "turns", "has_pending")),
        sa.column("created_at"),
        sa.column("updated_at"),
    )
    assignment = sa.table(
        "assignment",
        *(sa.column(c) for c in ("id", "conversation_id", "queue", "status", "reason", "queued_at")),
        sa.column("revocations"),
        sa.column("escalation"),
        sa.column("routing", sa.JSON()),
    )
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            # No explicit ids: PostgreSQL's sequences stay in step for whatever uses the database next.
            contact_id = connection.execute(
                sa.insert(contact).values(wa_id="447700900123", created_at=now).returning(contact.c.id)
            ).scalar_one()
            conversation_id = connection.execute(
                sa.insert(conversation)
                .values(
                    contact_id=contact_id,
                    owner="queued",
                    priority=0,
                    turns=0,
                    has_pending=False,
                    created_at=now,
                    updated_at=now,
                )
                .returning(conversation.c.id)
            ).scalar_one()
            common = {
                "conversation_id": conversation_id,
                "queue": "support",
                "queued_at": now,
                "revocations": 1,
                "escalation": 0,
            }
            connection.execute(
                sa.insert(assignment).values(
                    status="revoked", reason="support", routing={"rule": "department_choice"}, **common
                )
            )
            connection.execute(
                sa.insert(assignment).values(
                    status="waiting",
                    reason="sla_revoked",
                    routing={"rule": "department_choice", "exclude": ["tara", "diego"]},
                    **common,
                )
            )
    finally:
        engine.dispose()


def _assignment_rows(url: str, *columns: str) -> list[tuple[Any, ...]]:
    table = sa.table("assignment", sa.column("id"), *(sa.column(c, sa.JSON()) for c in columns))
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            query = sa.select(*(table.c[c] for c in columns)).order_by(table.c.id)
            return [tuple(row) for row in connection.execute(query)]
    finally:
        engine.dispose()


def _exclusions_move_to_their_own_column_and_back(url: str) -> None:
    command.downgrade(_alembic(url), "0003")
    _seed_assignments(url)
    command.upgrade(_alembic(url), "0004")
    assert _assignment_rows(url, "routing", "excluded_reps") == [
        ({"rule": "department_choice"}, None),
        ({"rule": "department_choice"}, ["diego", "tara"]),
    ]
    command.downgrade(_alembic(url), "0003")
    assert _assignment_rows(url, "routing") == [
        ({"rule": "department_choice"},),
        ({"rule": "department_choice", "exclude": ["diego", "tara"]},),
    ]
    command.upgrade(_alembic(url), "head")
    assert _differences(url) == []


def test_exclusions_migration_moves_them_out_of_the_routing_explanation_and_back_on_sqlite(
    sqlite_url: str,
) -> None:
    _exclusions_move_to_their_own_column_and_back(sqlite_url)


@pytest.mark.postgres
def test_exclusions_migration_moves_them_out_of_the_routing_explanation_and_back_on_postgres(
    postgres_url: str,
) -> None:
    _exclusions_move_to_their_own_column_and_back(postgres_url)

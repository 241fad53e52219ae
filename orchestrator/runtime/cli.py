"""`handoff` console script: serve, demo, replay, create-user."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path

import structlog


def _configure_logging(quiet: bool) -> None:
    import logging

    level = logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, stream=sys.stderr, format="%(message)s")
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from orchestrator.core.config import ConfigError, load_config
    from orchestrator.core.settings import get_settings
    from orchestrator.runtime.app import create_app

    settings = get_settings()
    try:
        load_config(settings.config)  # fail fast, naming the key, before binding the port
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    _configure_logging(quiet=False)
    uvicorn.run(create_app(settings=settings), host=args.host, port=args.port, log_level="info")
    return 0


def _parse_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError("--at needs a timezone, e.g. 2026-11-24T10:00:00+00:00")
    return at


def _replay(args: argparse.Namespace) -> int:
    from orchestrator.core.config import load_config
    from orchestrator.runtime.replay import read_cases, replay_cases

    _configure_logging(quiet=True)
    out = sys.stdout
    cases = read_cases(Path(args.file))
    for line in asyncio.run(replay_cases(cases, at=_parse_at(args.at), config=load_config(args.config))):
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    out.flush()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from orchestrator.runtime.replay import demo

    _configure_logging(quiet=True)
    asyncio.run(demo(at=_parse_at(args.at)))
    return 0


def _read_password(args: argparse.Namespace) -> str | None:
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if args.api_token:
        return None  # an API token alone is enough to sign in
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the passwords differ")
    return first


def _create_user(args: argparse.Namespace) -> int:
    """Create a user (e.g. the first admin) directly in the database, with a password and/or an
    API token; the token is printed once."""
    from handoff.errors import UserError
    from handoff.models import AuditEntry
    from handoff.users import create_user, rotate_api_token
    from orchestrator.core.clock import SystemClock
    from orchestrator.core.config import ConfigError, load_config
    from orchestrator.core.db import make_engine, make_sessionmaker
    from orchestrator.core.enums import Role
    from orchestrator.core.settings import get_settings
    from orchestrator.migrations import run_migrations

    settings = get_settings()
    try:
        config = load_config(settings.config)
        password = _read_password(args)
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if password is not None and len(password) < 8:
        print("error: the password needs at least 8 characters", file=sys.stderr)
        return 2

    async def run() -> str | None:
        await asyncio.to_thread(run_migrations, settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                now = SystemClock().now()
                rep = await create_user(
                    session,
                    rep_id=args.id,
                    name=args.name or args.id,
                    role=Role(args.role),
                    queues=args.queue,
                    known_queues={q.slug for q in config.queues},
                    capacity=args.capacity,
                    password=password,
                    at=now,
                )
                token = await rotate_api_token(session, rep=rep) if args.api_token else None
                session.add(
                    AuditEntry(
                        actor_id="cli",
                        action="user_created",
                        details={"rep_id": rep.id, "role": args.role, "queues": args.queue},
                        created_at=now,
                    )
                )
            return token
        finally:
            await engine.dispose()

    try:
        token = asyncio.run(run())
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"created {args.role} {args.id!r}", file=sys.stderr)
    if token is not None:
        print(token)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="handoff", description="AI-agent handoff orchestration for WhatsApp"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=_serve)
    demo = sub.add_parser("demo", help="play an ad lead and a support-menu conversation end to end")
    demo.add_argument("--at", help="fix the clock (ISO 8601 with timezone)")
    demo.set_defaults(func=_demo)
    replay = sub.add_parser(
        "replay", help="play labelled conversations (JSONL) and print one result line each"
    )
    replay.add_argument("file")
    replay.add_argument("--at", help="fix the clock (ISO 8601 with timezone)")
    replay.add_argument("--config", type=Path, default=None, help="configuration file (default: shipped)")
    replay.set_defaults(func=_replay)
    user = sub.add_parser("create-user", help="create a rep, lead or admin (e.g. bootstrap the first admin)")
    user.add_argument("id", help="user id, also the username for signing in")
    user.add_argument("--name", help="display name (default: the id)")
    user.add_argument("--role", choices=["rep", "lead", "admin"], default="rep")
    user.add_argument("--queue", action="append", default=[], help="queue slug (repeatable)")
    user.add_argument("--capacity", type=int, default=5, help="open conversations at once")
    user.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    user.add_argument("--api-token", action="store_true", help="issue an API token and print it")
    user.set_defaults(func=_create_user)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())

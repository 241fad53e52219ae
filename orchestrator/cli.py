"""`handoff` console script: serve, demo, replay."""

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

    from orchestrator.app import create_app
    from orchestrator.config import ConfigError, load_config
    from orchestrator.settings import get_settings

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
    from orchestrator.config import load_config
    from orchestrator.replay import read_cases, replay_cases

    _configure_logging(quiet=True)
    out = sys.stdout
    cases = read_cases(Path(args.file))
    for line in asyncio.run(replay_cases(cases, at=_parse_at(args.at), config=load_config(args.config))):
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    out.flush()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from orchestrator.replay import demo

    _configure_logging(quiet=True)
    asyncio.run(demo(at=_parse_at(args.at)))
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
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())

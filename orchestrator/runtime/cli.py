"""`handoff` console script: serve, worker, demo, replay, simulate, create-user, set-password."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    import socket

    import uvicorn
    from fastapi import FastAPI
    from pydantic import ValidationError

    from orchestrator.core.config import AppConfig
    from orchestrator.core.settings import Settings


def _configure_logging(quiet: bool) -> None:
    import logging

    from orchestrator.core.logs import configure_logging
    from orchestrator.core.settings import get_settings

    settings = get_settings()
    configure_logging(
        level=logging.WARNING if quiet else logging.INFO,
        json=settings.log_json,
        customer_data=settings.log_customer_data,
        access_log=settings.access_log,
    )


def _settings_or_error() -> Settings | None:
    """The settings, or None after printing what is wrong in one line per problem."""
    from pydantic import ValidationError

    from orchestrator.core.settings import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        for problem in _settings_problems(exc):
            print(problem, file=sys.stderr)
        return None


def _settings_problems(exc: ValidationError) -> list[str]:
    """One line per setting the environment gives wrong."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        name = f"HANDOFF_{where.upper()}: " if where else ""
        problems.append(f"configuration error: {name}{error['msg'].removeprefix('Value error, ')}")
    return problems


def startup_problems(settings: Settings, config: AppConfig) -> list[str]:
    """Why a deployment must not start as it is: public development secrets, no number to send
    from, demo accounts."""
    from orchestrator.core.settings import DEV_PHONE_NUMBER_ID

    if settings.dev_mode:
        return []
    problems = [
        f"{name} is the public development value; set it (or HANDOFF_DEV_MODE=true to try the service)"
        for name in settings.unsafe_defaults()
    ]
    if settings.whatsapp_phone_number_id == DEV_PHONE_NUMBER_ID:
        problems.append(
            "HANDOFF_WHATSAPP_PHONE_NUMBER_ID is not set: every reply would be sent from a placeholder "
            "number and fail; set it to the business number's id (or HANDOFF_DEV_MODE=true to try the "
            "service)"
        )
    demo = sorted(rep.id for rep in config.reps if rep.token)
    if demo:
        problems.append(
            f"the configuration gives API tokens to {', '.join(demo)} (the demo accounts); use your own "
            "HANDOFF_CONFIG without tokens, or HANDOFF_DEV_MODE=true to try the service"
        )
    return problems


def _checked_settings() -> Settings | None:
    """Settings and configuration checked before a port is bound or work is claimed; None after
    printing each problem on one line."""
    settings = _settings_or_error()
    if settings is None:
        return None
    for line in unknown_variables(os.environ):
        print(f"warning: {line}", file=sys.stderr)
    problems = _config_problems(settings)
    for problem in problems:
        print(problem, file=sys.stderr)
    return None if problems else settings


def _config_problems(settings: Settings) -> list[str]:
    """What keeps the configuration file, as it is now, from being run: checked at start and, in
    the parent of forked processes, before a reload (SIGHUP)."""
    from orchestrator.core.config import ConfigError, load_config

    try:
        config = load_config(settings.config)  # fail fast, naming the key
    except ConfigError as exc:
        return [f"configuration error: {exc}"]
    return [f"refusing to start: {problem}" for problem in startup_problems(settings, config)]


def _config_problem(settings: Settings) -> str | None:
    """`_config_problems` in one line, None if there are none (a reload's check)."""
    return "; ".join(_config_problems(settings)) or None


def _settings_now() -> Settings | str:
    """The settings as the environment and the `.env` file give them now, or what is wrong with them
    in one line."""
    from pydantic import ValidationError

    from orchestrator.core.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        return "; ".join(_settings_problems(exc))


def _restart_problem() -> str | None:
    """What would keep a process started on its own from starting again on SIGHUP, in one line (None
    if nothing): the settings as the environment and the `.env` file give them now, and the
    configuration file they name."""
    settings = _settings_now()
    return settings if isinstance(settings, str) else _config_problem(settings)


def _fleet_reload_problem(started: Settings) -> str | None:
    """A fleet's reload check (SIGHUP to the parent of `serve --workers N` or `worker --processes
    N`), in one line (None if nothing): the settings as the parent's environment and the `.env` file
    give them now, and the configuration file they name. Once they pass, they are the settings of
    the processes forked from then on (`get_settings`). The database stays the one the fleet started
    on (the parent migrated it and holds the socket and the processes for it)."""
    from orchestrator.core.settings import use_settings

    settings = _settings_now()
    if isinstance(settings, str):
        return settings
    if settings.database_url != started.database_url:
        return "HANDOFF_DATABASE_URL has changed: a reload keeps the database; restart to use another"
    problem = _config_problem(settings)
    if problem is None:
        use_settings(settings)
    return problem


def _database_usable(settings: Settings) -> bool:
    from orchestrator.core.db import sqlite_path

    unusable = database_problem(settings.database_url)
    if unusable is not None:
        print(f"cannot start: {unusable}", file=sys.stderr)
        return False
    # Which database, said once: the default SQLite file is relative to the working directory.
    path = sqlite_path(settings.database_url)
    structlog.get_logger(__name__).info(
        "database_ready",
        database=str(path.resolve()) if path is not None else _shown_url(settings.database_url),
    )
    return True


def _shown_url(url: str) -> str:
    """A database URL with its password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def database_problem(url: str) -> str | None:
    """Why the database cannot be used (unreachable, missing, a malformed URL), in one line, or
    None once it is reachable and at the schema's head (migrated here if it was behind, as every
    start does). A process checks before it binds a port or claims work, so a wrong URL is one line,
    not a traceback from inside the server's startup."""
    from sqlalchemy.exc import DBAPIError

    from orchestrator.core.db import sqlite_path
    from orchestrator.core.settings import DEFAULT_DATABASE_URL
    from orchestrator.migrations import run_migrations

    try:
        shown = _shown_url(url)
    except Exception:  # any parse failure is the same answer
        return "HANDOFF_DATABASE_URL is not a valid database URL"
    path = sqlite_path(url)
    if path is not None and url != DEFAULT_DATABASE_URL and not path.parent.is_dir():
        # A mistyped path would otherwise start on a new, empty database (the default's `var/` is
        # created).
        return f"the directory of the SQLite file {path} does not exist: create it or correct the path"
    try:
        run_migrations(url)
    except DBAPIError as exc:
        reason = " ".join(str(exc.orig).split())[:300]
        return f"the database at {shown} cannot be used: {reason}"
    except Exception as exc:  # a malformed URL fails in the driver in many ways
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        return f"the database at {shown} cannot be used: {reason}"
    return None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from orchestrator.runtime.app import create_app

    settings = _checked_settings()
    if settings is None:
        return 2
    _configure_logging(quiet=False)
    if args.workers > 1 and not settings.is_postgres:
        # Each process would see only its own commits live (no NOTIFY between processes on
        # SQLite): a rep's stream would miss what the other processes do.
        needs = "--workers needs PostgreSQL (HANDOFF_DATABASE_URL=postgresql+psycopg://...)"
        print(
            f"refusing to start: {needs}; SQLite, the embedded default, serves one process",
            file=sys.stderr,
        )
        return 2
    if not _database_usable(settings):
        return 2
    if args.workers > 1:
        if "jwt_secret" not in settings.model_fields_set:
            # Each process builds its own app and service from the environment: without this, each
            # would sign the rep API's tokens with a random secret of its own, and a token from one
            # process would be refused by the others.
            os.environ["HANDOFF_JWT_SECRET"] = settings.jwt_secret.get_secret_value()
        from orchestrator.runtime.prefork import Supervisor

        config = uvicorn.Config(
            "orchestrator.runtime.cli:app_of_a_worker_process",
            factory=True,
            host=args.host,
            port=args.port,
            log_level="info",
            log_config=None,
            access_log=settings.access_log,
        )
        sock = _listening_socket(config)
        if sock is None:
            return 2
        # The app, the server's protocols and, where the API runs turns, the agents: loaded once
        # here and shared by the processes forked below, copy-on-write (`runtime.prefork`). Each
        # process starts its own service in the app's lifespan.
        config.load()
        if settings.run_turns:
            _preload_worker()
        return Supervisor(
            args.workers,
            lambda: _run_api_process(config, sock),  # the app's lifespan reads `get_settings()`
            role="api",
            hang_after_s=settings.process_hang_s,
            stop_within_s=settings.stop_grace_s,
            check=lambda: _fleet_reload_problem(settings),
        ).run()
    config = uvicorn.Config(
        # `_database_usable` has migrated it; the process beats (`handoff alive --role api`)
        create_app(settings=settings, migrate=False, beats=True),
        host=args.host,
        port=args.port,
        log_level="info",
        log_config=None,
        access_log=settings.access_log,
    )
    return _serve_alone(config)


def _serve_alone(config: uvicorn.Config) -> int:
    """`handoff serve` as one process, until SIGTERM or SIGINT (then it exits 0). SIGHUP starts it
    again in place with the configuration read again, its listening socket kept open meanwhile
    (`runtime.restart`)."""
    import signal

    from orchestrator.runtime.restart import Reload, start_again
    from orchestrator.runtime.server import Server

    sock = _listening_socket(config)
    if sock is None:
        return 2
    server = Server(config)
    # uvicorn raises a signal it caught again once it has shut down, for the handler before it:
    # ending here, the graceful stop exits 0 instead of being killed by the signal (143, 130).
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, server.handle_exit)

    def stop() -> None:
        server.should_exit = True  # as SIGTERM does: open requests answered, turns finished

    reload = Reload("api", check=_restart_problem, stop=stop)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        reload.listen(loop)
        try:
            # uvicorn closes the sockets it serves when it stops: it gets a copy, and the socket
            # itself stays open for a new start to take over.
            await server.serve(sockets=[sock.dup()])
        finally:
            reload.stop_listening(loop)

    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(serve())
    if reload.asked:
        start_again(sock)
    return 0 if server.started else 3  # 3: uvicorn's code for a failed startup


def _listening_socket(config: uvicorn.Config) -> socket.socket | None:
    """The socket `handoff serve` listens on: the one a service manager (systemd's socket
    activation) or the process's own previous run (a reload) handed it, else bound to `--host` and
    `--port`. None, said why, if the one handed over cannot be served."""
    from orchestrator.runtime.restart import ListenError, inherited_socket

    try:
        sock = inherited_socket()
    except ListenError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return None
    if sock is None:
        try:
            sock = config.bind_socket()  # logs "Uvicorn running on ..."
        except SystemExit:  # uvicorn logged the error ("[Errno 98] Address already in use")
            print(f"cannot start: cannot listen on {config.host}:{config.port}", file=sys.stderr)
            return None
    else:
        name = sock.getsockname()  # (host, port, ...) for TCP, a path for a Unix socket
        address = f"{name[0]}:{name[1]}" if isinstance(name, tuple) else str(name)
        structlog.get_logger(__name__).info("listening_on_inherited_socket", address=address)
    sock.set_inheritable(False)  # uvicorn makes it inheritable; a reload hands it over itself
    return sock


def _run_api_process(config: uvicorn.Config, sock: socket.socket) -> int:
    """One of `handoff serve --workers N`'s processes: uvicorn on the socket the parent bound, until
    SIGTERM or SIGINT (then the open responses end and the app's shutdown finishes the turns)."""
    import signal

    from orchestrator.runtime.prefork import ready, start_beating
    from orchestrator.runtime.server import Server

    server = Server(config)
    # uvicorn takes the signals over while it serves; before that (a stop asked for while the
    # process starts) and after it (uvicorn raises the signal again once it has shut down, for the
    # previous handler) they end here, as a graceful stop, instead of killing the process.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, server.handle_exit)

    async def serving() -> None:
        while not server.started:  # noqa: ASYNC110 (uvicorn sets a flag, no event)
            await asyncio.sleep(0.05)
        ready()  # a reload's new process: the parent stops the one it replaces

    async def serve() -> None:
        beating = start_beating()  # the parent replaces a process whose loop stops running
        started = asyncio.create_task(serving())
        try:
            await server.serve(sockets=[sock])
        finally:
            started.cancel()
            if beating is not None:
                beating.cancel()

    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(serve())  # as `server.run` does, with the beat
    return 0 if server.started else 3  # 3: uvicorn's code for a failed startup


def app_of_a_worker_process() -> FastAPI:
    """The app of `handoff serve --workers N`'s processes (uvicorn's factory, called in the parent
    before it forks them), with the logging set up again after uvicorn's own (JSON, secrets
    scrubbed, customer data redacted)."""
    from orchestrator.runtime.app import create_app

    _configure_logging(quiet=False)
    return create_app(beats=True)  # each process beats (`handoff alive --role api`)


def _worker(args: argparse.Namespace) -> int:
    """Turns and background work without HTTP: the deliveries acknowledge-only API processes stored
    (woken by NOTIFY), stuck-turn recovery, durable timers, queue drain, retention. SIGTERM or SIGINT
    stops it after the turns in flight finish. With `--processes N`, N such workers forked from one
    parent that loaded the libraries and the agents once (`runtime.prefork`)."""
    settings = _checked_settings()
    if settings is None:
        return 2
    if args.processes > 1 and not settings.is_postgres:
        needs = "--processes needs PostgreSQL (HANDOFF_DATABASE_URL=postgresql+psycopg://...)"
        print(f"refusing to start: {needs}; SQLite, the embedded default, runs one worker", file=sys.stderr)
        return 2
    _configure_logging(quiet=False)
    if not _database_usable(settings):
        return 2
    if args.processes == 1:
        return _run_worker(settings, reload_on_hangup=True)
    from orchestrator.runtime.prefork import Supervisor

    _preload_worker()  # shared by the workers, copy-on-write
    from orchestrator.core.settings import get_settings

    return Supervisor(
        args.processes,
        lambda: _run_worker(get_settings()),  # as the last reload's check left them
        hang_after_s=settings.process_hang_s,
        stop_within_s=settings.stop_grace_s,
        check=lambda: _fleet_reload_problem(settings),
    ).run()


def _preload_worker() -> None:
    """What each process that runs turns would otherwise import for itself when it starts, loads its
    graph and sends its first reply: loaded once, before forking, in the parent of `handoff worker
    --processes N` (and of `handoff serve --workers N` where the API runs turns)."""
    import anyio._backends._asyncio  # noqa: F401  (the first send's connection, below httpx)
    import httpcore  # noqa: F401

    import orchestrator.runtime.container  # noqa: F401
    from orchestrator.runtime.graph import build_graph, import_agents

    import_agents(postgres=True)
    build_graph(checkpointer=None)  # what compiling a graph imports; each worker compiles its own


def _run_worker(settings: Settings, *, reload_on_hangup: bool = False) -> int:
    """One worker process until SIGTERM or SIGINT. With `reload_on_hangup` (a worker started on its
    own, not forked by a parent that reloads), SIGHUP starts it again in place (`runtime.restart`)."""
    import signal

    from orchestrator.runtime.container import Service
    from orchestrator.runtime.prefork import ready, start_beating
    from orchestrator.runtime.restart import Reload, start_again

    stop = asyncio.Event()
    reload = Reload("worker", check=_restart_problem, stop=stop.set)

    async def run() -> None:
        beating = start_beating()  # forked by `--processes N`: the parent replaces a hung worker
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if reload_on_hangup:
            reload.listen(loop)
        async with Service.running(
            settings.model_copy(update={"run_background": True, "run_turns": True}),
            freeze_heap=True,
            warm_graph=True,
            migrate=False,  # `_database_usable` has migrated it
            role="worker",
        ):
            structlog.get_logger(__name__).info(
                "worker_started", event_loop=type(loop).__module__, pid=os.getpid()
            )
            ready()  # a reload's new worker: the parent stops the one it replaces
            await stop.wait()
        structlog.get_logger(__name__).info("worker_stopped")
        if reload_on_hangup:
            reload.stop_listening(loop)
        if beating is not None:
            beating.cancel()

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(run())
    if reload.asked:
        start_again()
    return 0


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop a worker runs on: uvloop where it is installed (uvicorn's `standard` extra,
    which the API's processes already run on), asyncio's own elsewhere. A worker's every database
    round trip registers its socket with the loop and removes it again, which costs asyncio's
    selector loop several times what it costs uvloop."""
    try:
        import uvloop
    except ImportError:  # Windows, PyPy: asyncio's own
        return None
    return uvloop.new_event_loop


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"needs 1 or more, not {number}")
    return number


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """`HANDOFF_` variables that name no setting (a misspelt one is otherwise ignored without a
    word), each with the setting it most likely meant. `HANDOFF_TEST_*` belong to the test suite
    (`HANDOFF_TEST_POSTGRES_URL`), not to the service."""
    import difflib

    from orchestrator.core.settings import Settings

    known = {f"HANDOFF_{name.upper()}" for name in Settings.model_fields}
    lines = []
    ours = (n for n in environ if n.startswith("HANDOFF_") and not n.startswith("HANDOFF_TEST_"))
    for name in sorted(n for n in ours if n not in known):
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        lines.append(f"{name} is not a setting" + (f" (did you mean {close[0]}?)" if close else ""))
    return lines


def _parse_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise argparse.ArgumentTypeError("--at needs a timezone, e.g. 2026-11-24T10:00:00+00:00")
    return at


def _replay(args: argparse.Namespace) -> int:
    from orchestrator.core.config import ConfigError, load_config
    from orchestrator.runtime.replay import read_cases, replay_cases

    out = sys.stdout
    try:
        cases = read_cases(Path(args.file))
        config = load_config(args.config)
    except OSError as exc:
        print(f"cannot read {exc.filename or args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    _configure_logging(quiet=True)
    for line in asyncio.run(replay_cases(cases, at=_parse_at(args.at), config=config)):
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    out.flush()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from orchestrator.runtime.replay import demo

    _configure_logging(quiet=True)
    asyncio.run(demo(at=_parse_at(args.at)))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    """POST one signed customer message to a running service's webhook, as Meta would."""
    import time
    import uuid

    import httpx

    from orchestrator.channels.whatsapp.signature import compute_signature
    from orchestrator.runtime.simulator import build_button_reply_webhook, build_text_webhook, encode_webhook

    settings = _settings_or_error()
    if settings is None:
        return 2
    if (args.text is None) == (args.button is None):
        print("error: give the message text, or --button TITLE", file=sys.stderr)
        return 2
    common = {
        "wa_id": args.sender.lstrip("+").replace(" ", ""),
        "name": args.name,
        "message_id": f"wamid.simulated.{uuid.uuid4().hex}",
        "timestamp": int(time.time()),
        "phone_number_id": settings.whatsapp_phone_number_id,
    }
    if args.ad:
        common["referral"] = {
            "source_url": "https://fb.me/simulated",
            "source_id": args.ad,
            "source_type": "ad",
            "headline": "Simulated ad",
            "ctwa_clid": f"simulated-{uuid.uuid4().hex[:12]}",
        }
    if args.button is not None:
        payload = build_button_reply_webhook(reply_id=args.button.lower(), title=args.button, **common)
    else:
        payload = build_text_webhook(text=args.text, **common)
    body = encode_webhook(payload)
    secret = settings.whatsapp_app_secret.get_secret_value()
    try:
        response = httpx.post(
            args.url.rstrip("/") + "/webhooks/whatsapp",
            content=body,
            headers={
                "content-type": "application/json",
                "x-hub-signature-256": compute_signature(secret, body),
            },
            timeout=10,
        )
    except httpx.HTTPError as exc:
        print(f"error: could not reach {args.url}: {exc}", file=sys.stderr)
        return 1
    print(f"{response.status_code} {response.text}", file=sys.stderr)
    return 0 if response.is_success else 1


def _read_password(args: argparse.Namespace) -> str | None:
    import getpass

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif args.api_token:
        return None  # an API token alone is enough to sign in
    else:
        try:
            password = getpass.getpass("password: ")
            again = getpass.getpass("again: ")
        except EOFError:  # no terminal (`docker compose run -T`, a pipe): nothing to type it on
            raise ValueError(
                "no terminal to type the password on: pipe it in with --password-stdin"
            ) from None
        if again != password:
            raise ValueError("the passwords differ")
    if len(password) < 8:
        raise ValueError("the password needs at least 8 characters")
    return password


def _set_password(args: argparse.Namespace) -> int:
    """Give an existing user a password (and, with --api-token, a new API token, printed once): a rep
    the configuration created, who has none yet, or a password that was lost. Their sessions and
    access tokens signed with the old password end."""
    from handoff.models import AuditEntry, Rep
    from handoff.users import hash_password, rotate_api_token
    from orchestrator.core.clock import SystemClock
    from orchestrator.core.db import make_engine, make_sessionmaker
    from orchestrator.core.settings import get_settings
    from orchestrator.migrations import run_migrations

    settings = get_settings()
    try:
        password = _read_password(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def run() -> tuple[bool, str | None]:
        await asyncio.to_thread(run_migrations, settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                rep = await session.get(Rep, args.id, with_for_update=True)
                if rep is None:
                    return False, None
                if password is not None:
                    rep.password_hash = hash_password(password)
                    session.add(rep)
                token = await rotate_api_token(session, rep=rep) if args.api_token else None
                session.add(
                    AuditEntry(
                        actor_id="cli",
                        action="password_set",
                        details={
                            "rep_id": rep.id,
                            "password": password is not None,
                            "api_token": bool(token),
                        },
                        created_at=SystemClock().now(),
                    )
                )
            return True, token
        finally:
            await engine.dispose()

    found, token = asyncio.run(run())
    if not found:
        print(f"error: no user with id {args.id!r} (create-user creates one)", file=sys.stderr)
        return 2
    print(
        f"password set for {args.id!r}" if password is not None else f"API token issued for {args.id!r}",
        file=sys.stderr,
    )
    if token is not None:
        print(token)
    return 0


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


def _alive(args: argparse.Namespace) -> int:
    """A container's health check: whether a process of `args.role` on this host has beaten in time
    (`orchestrator.core.heartbeat`). One line; exit status 0 if so, 1 if not."""
    import socket

    from orchestrator.core import heartbeat
    from orchestrator.core.clock import SystemClock
    from orchestrator.core.db import make_engine, make_sessionmaker

    settings = _settings_or_error()
    if settings is None:
        return 1
    host = socket.gethostname()

    async def beats() -> tuple[list[Any], datetime]:
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                every, now = await heartbeat.processes(session, at=SystemClock().now())
            return [b for b in every if b.host == host and b.role == args.role], now
        finally:
            await engine.dispose()

    try:
        found, now = asyncio.run(beats())
    except Exception as exc:
        print(f"unknown: the database cannot be read ({type(exc).__name__})")
        return 1
    live = [b for b in found if heartbeat.is_live(b, at=now)]
    if live:
        ago = min((now - b.beat_at).total_seconds() for b in live)
        print(f"alive: {len(live)} {args.role} process(es) on {host}, the last beat {ago:.1f} s ago")
        return 0
    if found:
        ago = min((now - b.beat_at).total_seconds() for b in found)
        print(f"silent: no {args.role} process on {host} has beaten for {ago:.1f} s")
    else:
        print(f"not running: no {args.role} process on {host} has beaten")
    return 1


def _settings(args: argparse.Namespace) -> int:
    from orchestrator.runtime import settings_reference as reference

    if args.reference:
        print(reference.reference_markdown(), end="")
        return 0
    if args.env_example:
        print(reference.env_example(), end="")
        return 0
    settings = _settings_or_error()
    if settings is None:
        return 2
    for line in unknown_variables(os.environ):
        print(f"warning: {line}", file=sys.stderr)
    print("\n".join(reference.effective(settings)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="handoff", description="AI-agent handoff orchestration for WhatsApp"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="the port to listen on (default: %(default)s)")
    serve.add_argument(
        "--workers", type=_positive, default=1, help="API processes (PostgreSQL for more than one)"
    )
    serve.set_defaults(func=_serve)
    worker = sub.add_parser(
        "worker",
        help="run the turns and the background work (timers, queue drain, recovery) without serving HTTP",
    )
    worker.add_argument(
        "--processes",
        type=_positive,
        default=1,
        help="worker processes forked from one parent, sharing its loaded libraries "
        "(PostgreSQL for more than one)",
    )
    worker.set_defaults(func=_worker)
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
    simulate = sub.add_parser(
        "simulate", help="send a signed customer message to a running service (try the product without Meta)"
    )
    simulate.add_argument("text", nargs="?", help="what the customer types")
    simulate.add_argument("--from", dest="sender", default="447700900123", help="the customer's number")
    simulate.add_argument("--name", default="Test Customer", help="the customer's profile name")
    simulate.add_argument("--button", help="press a welcome-menu button (its title) instead of typing")
    simulate.add_argument("--ad", help="an ad id: the message comes from a click-to-WhatsApp ad")
    simulate.add_argument(
        "--url", default="http://127.0.0.1:8000", help="the service's base URL (default: %(default)s)"
    )
    simulate.set_defaults(func=_simulate)
    user = sub.add_parser("create-user", help="create a rep, lead or admin (e.g. bootstrap the first admin)")
    user.add_argument("id", help="user id, also the username for signing in")
    user.add_argument("--name", help="display name (default: the id)")
    user.add_argument("--role", choices=["rep", "lead", "admin"], default="rep")
    user.add_argument("--queue", action="append", default=[], help="queue slug (repeatable)")
    user.add_argument("--capacity", type=int, default=5, help="open conversations at once")
    user.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    user.add_argument("--api-token", action="store_true", help="issue an API token and print it")
    user.set_defaults(func=_create_user)
    password = sub.add_parser(
        "set-password",
        help="give an existing user a password (a rep the configuration created, or a lost password)",
    )
    password.add_argument("id", help="user id")
    password.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    password.add_argument("--api-token", action="store_true", help="also issue a new API token and print it")
    password.set_defaults(func=_set_password)
    alive = sub.add_parser(
        "alive",
        help="a health check: exit 0 if a process of this role on this host has beaten in time",
    )
    alive.add_argument("--role", choices=["worker", "api"], default="worker")
    alive.set_defaults(func=_alive)
    shown = sub.add_parser(
        "settings",
        help="print the settings this environment gives (secrets hidden), or every setting's reference",
    )
    what = shown.add_mutually_exclusive_group()
    what.add_argument("--reference", action="store_true", help="every setting as a Markdown table")
    what.add_argument("--env-example", action="store_true", help="every setting as a commented .env file")
    shown.set_defaults(func=_settings)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())

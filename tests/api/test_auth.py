"""Users and sign-in: OAuth2 password flow with signed access tokens, hashed API tokens (the demo's
`demo-<id>` included), revocation, and the CLI that bootstraps the first admin."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import func, select
from sqlmodel import col

from handoff.models import AuditEntry, Rep
from handoff.users import JWT_AUDIENCE, hash_password, verify_password
from orchestrator.core.config import AppConfig
from orchestrator.core.settings import Settings
from orchestrator.runtime.replay import harness
from orchestrator.runtime.simulator import GraphSink
from tests.api.helpers import bearer
from tests.conftest import OPEN_HOURS
from tests.fakes.graph import TestHarness


async def create_rep(
    h: TestHarness, rep_id: str = "nina", password: str = "correct horse battery", **extra: Any
) -> None:
    response = await h.http.post(
        "/api/admin/reps",
        json={"id": rep_id, "name": "Nina Costa", "queues": ["support"], "password": password, **extra},
        headers=bearer("admin"),
    )
    assert response.status_code == 201, response.text


async def login(h: TestHarness, username: str, password: str) -> Any:
    return await h.http.post("/api/auth/token", data={"username": username, "password": password})


async def test_password_login_returns_a_bearer_token_that_authenticates(h: TestHarness) -> None:
    await create_rep(h)
    response = await login(h, "nina", "correct horse battery")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    me = await h.http.get("/api/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["id"] == "nina"
    assert me.json()["queues"] == ["support"]


async def test_access_token_is_a_jwt_signed_with_the_service_secret(h: TestHarness) -> None:
    await create_rep(h)
    token = (await login(h, "nina", "correct horse battery")).json()["access_token"]
    secret = h.service.settings.jwt_secret.get_secret_value()
    claims = jwt.decode(
        token,
        secret,
        algorithms=["HS256"],
        audience=JWT_AUDIENCE,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["sub"] == "nina"
    assert claims["exp"] - claims["iat"] == 3600


async def test_wrong_password_and_unknown_user_get_the_same_401(h: TestHarness) -> None:
    await create_rep(h)
    wrong = await login(h, "nina", "not her password")
    unknown = await login(h, "nobody", "correct horse battery")
    no_password = await login(h, "tara", "anything at all")  # a demo rep with only an API token
    for response in (wrong, unknown, no_password):
        assert response.status_code == 401
        assert response.json() == {"detail": "incorrect username or password"}
        assert response.headers["www-authenticate"] == "Bearer"


async def test_access_token_stops_working_when_it_expires(h: TestHarness) -> None:
    await create_rep(h)
    token = (await login(h, "nina", "correct horse battery")).json()["access_token"]
    h.clock.advance(minutes=59)
    assert (await h.http.get("/api/me", headers=bearer(token))).status_code == 200
    h.clock.advance(minutes=1)
    expired = await h.http.get("/api/me", headers=bearer(token))
    assert expired.status_code == 401
    assert expired.json() == {"detail": "invalid or expired token"}


async def test_token_signed_with_another_secret_is_refused(h: TestHarness) -> None:
    await create_rep(h)
    now = h.clock.now()
    forged = jwt.encode(
        {"sub": "admin", "aud": JWT_AUDIENCE, "exp": int((now + timedelta(hours=1)).timestamp()), "pwf": "x"},
        "a-guessed-secret-that-is-long-enough-for-hs256",
        algorithm="HS256",
    )
    response = await h.http.get("/api/me", headers=bearer(forged))
    assert response.status_code == 401


async def test_changing_the_password_revokes_outstanding_access_tokens(h: TestHarness) -> None:
    await create_rep(h)
    token = (await login(h, "nina", "correct horse battery")).json()["access_token"]
    changed = await h.http.patch(
        "/api/admin/reps/nina", json={"password": "a brand new password"}, headers=bearer("admin")
    )
    assert changed.status_code == 200
    assert (await h.http.get("/api/me", headers=bearer(token))).status_code == 401
    assert (await login(h, "nina", "a brand new password")).status_code == 200


async def test_demo_api_tokens_authenticate_their_rep(h: TestHarness) -> None:
    response = await h.http.get("/api/me", headers=bearer("demo-lena"))
    assert response.status_code == 200
    assert response.json()["id"] == "lena"
    assert response.json()["role"] == "lead"
    assert response.json()["queues"] == ["senior_engineering", "support"]


async def test_missing_or_unknown_token_gets_401_with_the_bearer_challenge(h: TestHarness) -> None:
    missing = await h.http.get("/api/me")
    unknown = await h.http.get("/api/me", headers=bearer("demo-nobody"))
    assert missing.status_code == 401
    assert missing.json() == {"detail": "missing bearer token"}
    assert unknown.status_code == 401
    assert unknown.headers["www-authenticate"] == "Bearer"


async def test_issued_api_token_replaces_the_previous_one(h: TestHarness) -> None:
    issued = await h.http.post("/api/admin/reps/tara/api-token", headers=bearer("admin"))
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert token.startswith("hk_")
    assert (await h.http.get("/api/me", headers=bearer(token))).json()["id"] == "tara"
    assert (await h.http.get("/api/me", headers=bearer("demo-tara"))).status_code == 401
    async with h.service.sessions() as session:
        rep = await session.get(Rep, "tara")
    assert rep is not None
    assert token not in (rep.token_hash or "")  # only the hash is stored


async def test_disabled_user_can_no_longer_sign_in_in_any_way(h: TestHarness) -> None:
    await create_rep(h)
    token = (await login(h, "nina", "correct horse battery")).json()["access_token"]
    api_token = (await h.http.post("/api/admin/reps/nina/api-token", headers=bearer("admin"))).json()["token"]
    disabled = await h.http.post("/api/admin/reps/nina/disable", headers=bearer("admin"))
    assert disabled.status_code == 200
    assert disabled.json()["presence"] == "offline"
    assert (disabled.json()["has_password"], disabled.json()["has_api_token"]) == (False, False)
    assert (await h.http.get("/api/me", headers=bearer(token))).status_code == 401
    assert (await h.http.get("/api/me", headers=bearer(api_token))).status_code == 401
    assert (await login(h, "nina", "correct horse battery")).status_code == 401


def test_short_jwt_secret_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(database_url=f"sqlite:///{tmp_path}/x.db", jwt_secret=SecretStr("too-short"))


def test_passwords_are_stored_as_salted_argon2id_hashes() -> None:
    first, second = hash_password("s3cret-enough"), hash_password("s3cret-enough")
    assert first.startswith("$argon2id$")
    assert first != second  # a fresh salt each time
    assert verify_password("s3cret-enough", first)
    assert not verify_password("s3cret-enougH", first)
    assert not verify_password("s3cret-enough", None)
    assert not verify_password("s3cret-enough", "md5$garbage")


async def run_cli(sqlite_url: str, *args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orchestrator.runtime.cli",
        *args,
        env={"HANDOFF_DATABASE_URL": sqlite_url, "PATH": "/usr/bin:/bin"},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_cli_bootstraps_an_admin_who_can_sign_in_and_manage_users(
    h: TestHarness, sqlite_url: str
) -> None:
    code, out, err = await run_cli(
        sqlite_url,
        "create-user",
        "root",
        "--role",
        "admin",
        "--password-stdin",
        "--api-token",
        stdin=b"root-password-1\n",
    )
    assert code == 0, err
    assert "created admin 'root'" in err
    api_token = out.strip()
    access = (await login(h, "root", "root-password-1")).json()["access_token"]
    for token in (api_token, access):
        me = await h.http.get("/api/me", headers=bearer(token))
        assert me.json()["role"] == "admin"
    config = await h.http.get("/api/admin/config", headers=bearer(access))
    assert config.status_code == 200
    audit = await h.http.get("/api/audit", params={"actor_id": "cli"}, headers=bearer(access))
    assert [(e["action"], e["details"]["rep_id"]) for e in audit.json()] == [("user_created", "root")]


async def test_cli_refuses_a_short_password_and_a_duplicate_id(h: TestHarness, sqlite_url: str) -> None:
    short = await run_cli(
        sqlite_url, "create-user", "root", "--role", "admin", "--password-stdin", stdin=b"short\n"
    )
    duplicate = await run_cli(
        sqlite_url, "create-user", "tara", "--password-stdin", stdin=b"long enough pw\n"
    )
    assert short[0] == 2
    assert "at least 8 characters" in short[2]
    assert duplicate[0] == 2
    assert "already exists" in duplicate[2]


async def test_cli_gives_the_admin_the_configuration_created_a_password_to_sign_in_with(
    h: TestHarness, sqlite_url: str
) -> None:
    """The shipped configuration lists an `admin` the service creates at its first start, with no
    password (and, once the demo tokens are removed, no token): `set-password` lets it sign in."""
    duplicate = await run_cli(
        sqlite_url, "create-user", "admin", "--role", "admin", "--password-stdin", stdin=b"admin-password-1\n"
    )
    assert duplicate[0] == 2
    assert "already exists" in duplicate[2]
    code, out, err = await run_cli(
        sqlite_url, "set-password", "admin", "--password-stdin", "--api-token", stdin=b"admin-password-1\n"
    )
    assert code == 0, err
    assert "password set for 'admin'" in err
    access = (await login(h, "admin", "admin-password-1")).json()["access_token"]
    for token in (access, out.strip()):
        me = await h.http.get("/api/me", headers=bearer(token))
        assert me.json()["role"] == "admin"
    audit = await h.http.get("/api/audit", params={"actor_id": "cli"}, headers=bearer(access))
    assert [(e["action"], e["details"]["rep_id"]) for e in audit.json()] == [("password_set", "admin")]
    unknown = await run_cli(
        sqlite_url, "set-password", "nobody", "--password-stdin", stdin=b"long enough pw\n"
    )
    assert unknown[0] == 2
    assert "no user with id 'nobody'" in unknown[2]


async def test_cli_without_a_terminal_asks_for_password_stdin_instead_of_failing_with_a_traceback(
    h: TestHarness, sqlite_url: str
) -> None:
    code, _out, err = await run_cli(sqlite_url, "create-user", "root", "--role", "admin", stdin=b"")
    assert code == 2
    assert "pipe it in with --password-stdin" in err
    assert "Traceback" not in err


# An scrypt hash of "correct horse battery" in the form stored before Argon2id (N=2^14, r=8, p=1).
def _legacy_scrypt(password: str) -> str:
    import base64
    import hashlib

    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"scrypt$16384$8$1${b64(salt)}${b64(digest)}"


async def test_an_older_scrypt_password_still_signs_in_and_is_rehashed_to_argon2id(h: TestHarness) -> None:
    await create_rep(h)
    async with h.service.sessions() as session, session.begin():
        rep = await session.get(Rep, "nina")
        assert rep is not None
        rep.password_hash = _legacy_scrypt("correct horse battery")
    assert (await login(h, "nina", "wrong horse battery")).status_code == 401
    response = await login(h, "nina", "correct horse battery")
    assert response.status_code == 200
    async with h.service.sessions() as session:
        stored = (await session.get(Rep, "nina")).password_hash  # type: ignore[union-attr]
    assert stored is not None
    assert stored.startswith("$argon2id$")
    token = response.json()["access_token"]
    assert (await h.http.get("/api/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    assert (await login(h, "nina", "correct horse battery")).status_code == 200  # the new hash verifies


async def test_each_sign_in_is_in_the_audit_log_as_a_success_or_a_failure(h: TestHarness) -> None:
    await create_rep(h)
    assert (await login(h, "nina", "guess")).status_code == 401
    assert (await login(h, "nina", "correct horse battery")).status_code == 200
    async with h.service.sessions() as session:
        actions = (
            (
                await session.execute(
                    select(col(AuditEntry.action))
                    .where(
                        col(AuditEntry.actor_id) == "nina",
                        col(AuditEntry.action).in_(["login_failed", "signed_in"]),
                    )
                    .order_by(col(AuditEntry.id))
                )
            )
            .scalars()
            .all()
        )
    assert actions == ["login_failed", "signed_in"]


async def test_repeated_failed_sign_ins_are_refused_for_a_while(h: TestHarness) -> None:
    await create_rep(h)
    for _ in range(5):
        assert (await login(h, "nina", "guess")).status_code == 401
    refused = await login(h, "nina", "correct horse battery")  # even the right password, for now
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 300
    assert (await login(h, "bruno-not-nina", "guess")).status_code == 401  # other users unaffected
    h.clock.advance(seconds=301)
    assert (await login(h, "nina", "correct horse battery")).status_code == 200


async def test_guesses_sent_all_at_once_get_no_more_password_checks_than_guesses_one_by_one(
    h: TestHarness,
) -> None:
    # Counted before they were recorded, 40 simultaneous guesses all passed the count: the right
    # password, last among them, signed in although the limit is five failures.
    await create_rep(h)
    guesses = [f"guess number {i}" for i in range(40)] + ["correct horse battery"]
    answers = await asyncio.gather(*(login(h, "nina", guess) for guess in guesses))
    codes = Counter(a.status_code for a in answers)
    assert codes[200] + codes[401] <= 5, codes
    assert codes[429] >= len(guesses) - 5
    async with h.service.sessions() as session:
        recorded = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(col(AuditEntry.action) == "login_failed")
        )
    assert recorded == codes[401]  # each checked and wrong guess is recorded once; refusals are not
    h.clock.advance(seconds=301)
    assert (await login(h, "nina", "correct horse battery")).status_code == 200


DEMO_ALICE = {"Authorization": "Bearer demo-alice"}


async def test_demo_tokens_stop_working_once_the_configuration_no_longer_lists_them(
    sqlite_url: str, config: AppConfig
) -> None:
    async with harness(
        database_url=sqlite_url, config=config, at=OPEN_HOURS, migrate=False, fake_graph=GraphSink()
    ) as h:
        assert (await h.http.get("/api/me", headers=DEMO_ALICE)).status_code == 200
        issued = await h.http.post("/api/admin/reps/bruno/api-token", headers=bearer("admin"))
        assert issued.status_code == 201
    own = config.model_copy(update={"reps": [r for r in config.reps if r.id not in ("alice", "bruno")]})
    async with harness(
        database_url=sqlite_url, config=own, at=OPEN_HOURS, migrate=False, fake_graph=GraphSink()
    ) as h:
        assert (await h.http.get("/api/me", headers=DEMO_ALICE)).status_code == 401
        # A token an admin issued since is the admin's decision, not the configuration's: it stays.
        token = issued.json()["token"]
        assert (await h.http.get("/api/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200
        assert (
            await h.http.get("/api/me", headers={"Authorization": "Bearer demo-admin"})
        ).status_code == 200  # still listed
        retired = await h.http.get("/api/audit", headers=bearer("admin"), params={"limit": 200})
        assert "rep_token_retired" in {e["action"] for e in retired.json()}


async def test_demo_tokens_stop_working_once_the_configuration_lists_their_reps_without_them(
    sqlite_url: str, config: AppConfig
) -> None:
    # A trial run seeded the database; the deployment's configuration keeps the team but removes
    # every `token: demo-…`, as deploy.md says: the public tokens must not open it.
    async with harness(
        database_url=sqlite_url, config=config, at=OPEN_HOURS, migrate=False, fake_graph=GraphSink()
    ) as h:
        assert (await h.http.get("/api/me", headers=bearer("admin"))).status_code == 200
    without_tokens = config.model_copy(
        update={"reps": [r.model_copy(update={"token": None}) for r in config.reps]}
    )
    async with harness(
        database_url=sqlite_url, config=without_tokens, at=OPEN_HOURS, migrate=False, fake_graph=GraphSink()
    ) as h:
        for rep in ("admin", "alice", "tara"):
            assert (await h.http.get("/api/me", headers=bearer(rep))).status_code == 401, rep
        async with h.service.sessions() as session:
            admin = await session.get_one(Rep, "admin")
        assert (admin.token_hash, admin.config_token_hash) == (None, None)


async def test_a_token_the_configuration_changes_replaces_the_one_it_gave(
    sqlite_url: str, config: AppConfig
) -> None:
    async with harness(
        database_url=sqlite_url, config=config, at=OPEN_HOURS, migrate=False, fake_graph=GraphSink()
    ):
        pass
    rotated = config.model_copy(
        update={
            "reps": [
                r.model_copy(update={"token": "rotated-alice-0123456789"}) if r.id == "alice" else r
                for r in config.reps
            ]
        }
    )
    async with harness(
        database_url=sqlite_url, config=rotated, at=OPEN_HOURS, migrate=False, fake_graph=GraphSink()
    ) as h:
        assert (await h.http.get("/api/me", headers=DEMO_ALICE)).status_code == 401
        new = await h.http.get("/api/me", headers={"Authorization": "Bearer rotated-alice-0123456789"})
        assert new.status_code == 200

"""Service settings: one `Settings` read from the environment (and `.env`), validated at start.

Names follow the configuration contract in DESIGN.md. `get_settings()` reads them once a process (a
fleet's reload replaces them with `use_settings`); tests build their own `Settings(...)` and hand it
to `create_app(settings=...)` instead of patching the environment.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///var/handoff.db"
# Public development values: a deployment that still uses one of them is refused unless in dev mode.
# A placeholder, not a number: replies sent from it fail.
DEV_PHONE_NUMBER_ID = "000000000000000"
DEV_SECRETS = {
    "HANDOFF_WHATSAPP_APP_SECRET": "dev-app-secret",
    "HANDOFF_WHATSAPP_VERIFY_TOKEN": "dev-verify-token",
    "HANDOFF_WHATSAPP_ACCESS_TOKEN": "dev-access-token",
}


def _sqlite_file(url: str) -> str:
    """The file a `sqlite:///...` URL names ("" for `sqlite://`, SQLite's in-memory database)."""
    rest = url.split("://", 1)[1] if "://" in url else ""
    return rest[1:].split("?", 1)[0] if rest.startswith("/") else ""


def _aliases(alias: Any) -> list[str]:
    """The names a field's `validation_alias` reads (`OPENAI_API_KEY` for `openai_api_key`)."""
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return []


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_prefix="HANDOFF_", extra="ignore")

    dev_mode: bool = Field(
        default=False,
        description="accept the public development secrets and the demo accounts of the shipped "
        "configuration (`make run`, `handoff demo`, the tests); never in a deployment",
    )
    demo_presence: bool = Field(
        default=False,
        description="a trial run: the configuration's demo accounts stay present without heartbeats",
    )
    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="`postgresql+psycopg://user@host/db` for PostgreSQL (a fleet of processes); the "
        "embedded SQLite file otherwise, for one process",
    )
    config: Path | None = Field(
        default=None,
        description="the configuration file (YAML): departments, routing, menu, qualification, messages, "
        "hours, reps, approved message templates; the shipped `orchestrator/defaults/config.yaml` if unset",
    )

    whatsapp_app_secret: SecretStr = Field(
        default=SecretStr(DEV_SECRETS["HANDOFF_WHATSAPP_APP_SECRET"]),
        description="Meta app secret: verifies each webhook's `X-Hub-Signature-256` (required outside "
        "development mode)",
    )
    whatsapp_verify_token: SecretStr = Field(
        default=SecretStr(DEV_SECRETS["HANDOFF_WHATSAPP_VERIFY_TOKEN"]),
        description="the token typed into Meta's webhook settings: the subscription handshake (required "
        "outside development mode)",
    )
    whatsapp_access_token: SecretStr = Field(
        default=SecretStr(DEV_SECRETS["HANDOFF_WHATSAPP_ACCESS_TOKEN"]),
        description="system-user bearer token for the Graph API's sends and media (required outside "
        "development mode)",
    )
    whatsapp_phone_number_id: str = Field(
        default=DEV_PHONE_NUMBER_ID,
        description="the business number's id: the one that sends (required outside development mode)",
    )
    whatsapp_api_url: str = Field(
        default="https://graph.facebook.com",
        description="the Graph API's base URL (the tests point it at a local fake)",
    )
    whatsapp_api_version: str = Field(
        default="v25.0", description="the Graph API version sends and media use"
    )

    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "HANDOFF_OPENAI_API_KEY"),
        description="switches the agents from the offline rules engine to the model (`OPENAI_API_KEY` "
        "is read too)",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "HANDOFF_OPENAI_BASE_URL"),
        description="any OpenAI-compatible server (`OPENAI_BASE_URL` is read too); OpenAI's own if unset",
    )
    llm_model: str = Field(default="gpt-4.1-mini", description="the model's name")
    llm_timeout_s: float = Field(
        default=8.0,
        description="one model call's timeout; a turn's calls, retries included, end within an 8 s "
        "deadline, after which the customer is handed to a person (`ai_unavailable`)",
    )

    # A burst of customer messages is one turn (DESIGN.md flow step 2).
    burst_window_s: float = Field(
        default=1.5,
        ge=0,
        description="the longest a turn waits for a burst of messages to end, from its first message "
        "(0: no wait)",
    )
    burst_quiet_s: float = Field(
        default=0.4,
        ge=0,
        description="a turn starts once the customer has sent nothing for this long (bounded by the window)",
    )
    timer_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="how often the background loop runs: timers (SLA, presence, opening hours), queue "
        "drain, stuck-turn recovery",
    )
    run_background: bool = Field(
        default=True,
        description="timers, queue drain, recovery and retention in this process (`false` for API-only "
        "processes next to a `handoff worker`)",
    )
    # orchestrator/runtime/wakeup.py
    run_turns: bool = Field(
        default=True,
        description="customers' turns in this process; `false` (PostgreSQL only) makes an "
        "acknowledge-only API process that stores each delivery and wakes the `handoff worker` "
        "processes, which run the turns (docs/deploy.md)",
    )
    # Retention (orchestrator/runtime/retention.py). Conversations, messages, the context log and
    # assignments are kept; so is each conversation's latest graph checkpoint.
    retention_deliveries_days: float = Field(
        default=7, gt=0, description="days raw webhook deliveries (and applied inbox items) are kept"
    )
    retention_statuses_days: float = Field(default=30, gt=0, description="days delivery statuses are kept")
    retention_timers_days: float = Field(
        default=7, gt=0, description="days fired or cancelled timers are kept"
    )
    retention_audit_days: float = Field(default=365, gt=0, description="days audit-log entries are kept")
    retention_media_days: float | None = Field(
        default=None,
        gt=0,
        description="if set, a media file's bytes are removed this many days after it was stored (the "
        "message stays and says so); kept as long as their messages if unset",
    )
    retention_interval_s: float = Field(default=3600, gt=0, description="how often retention prunes")
    turn_lease_s: float = Field(
        default=15.0,
        ge=1,
        description="one worker per conversation: the turn lease, renewed every third of it while the "
        "turn runs; a dead process's conversations resume once it lapses",
    )
    turn_concurrency: int = Field(
        default=4,
        ge=1,
        description="turns running the graph at once in one process; the others wait their slot, so "
        "webhook acknowledgements and lease renewals stay answered under a backlog (at most 16 "
        "conversations a slot hold a lease in the process; the rest wait without one, in arrival order, "
        "and are let in eight at a time)",
    )
    process_hang_s: float = Field(
        default=30.0,
        ge=2,
        description="`handoff serve --workers N`, `handoff worker --processes N`: a forked process whose "
        "event loop has not run for this long (a call that blocks, a loop that never yields) is killed "
        "and replaced",
    )
    stop_grace_s: float = Field(
        default=25.0,
        gt=0,
        description="`handoff serve --workers N`, `handoff worker --processes N`: how long a forked "
        "process told to stop (SIGTERM, a reload) may take to finish its turns and responses before "
        "its parent kills it; one whose parent is gone ends itself as long after. Below the platform's "
        "own grace period (Docker's and Kubernetes' 30 s by default), so the parent exits first",
    )
    send_claim_s: float = Field(
        default=90.0,
        ge=1,
        description="how long a send claim holds before the relay resends a reply whose sender died "
        "(longer than the Graph client's worst case)",
    )

    # Media (orchestrator/media.py).
    media_max_bytes: int = Field(
        default=16 * 1024 * 1024,
        gt=0,
        description="the largest file fetched from WhatsApp or sent by a rep (Meta's limits: image 5 MB, "
        "audio and video 16 MB, document 100 MB); larger inbound media is shown as not fetched",
    )
    media_fetch_attempts: int = Field(
        default=5,
        ge=1,
        description="how often a customer's media is tried before it is given up (1 min, 5 min, 30 min, "
        "then every 2 h apart); shown to reps either way",
    )

    # Rep API access tokens (OAuth2 password flow): HS256 JWTs.
    jwt_secret: SecretStr = Field(
        default_factory=lambda: SecretStr(secrets.token_urlsafe(32)),
        description="signs rep sign-in tokens (32+ characters); random per start if unset (the "
        "processes of one `handoff serve --workers N` share theirs): set it when API processes are "
        "started separately or on several machines",
    )
    jwt_ttl_minutes: int = Field(default=60, gt=0, description="how long a rep API token lasts")
    notify_webhook_url: str | None = Field(
        default=None,
        description="an integration's URL: every rep notification POSTed to it as JSON, signed with "
        "HMAC-SHA256 of the body in `X-Handoff-Signature-256: sha256=<hex>`",
    )
    notify_webhook_secret: SecretStr | None = Field(
        default=None, description="the key of those signatures (required with the URL)"
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="the bearer token a scraper (Prometheus) sends to `GET /metrics`, which names every "
        "user and their workload: without it the metrics are refused outside development mode",
    )
    sql_echo: bool = Field(default=False, description="log every SQL statement (debugging only)")
    log_json: bool = Field(
        default=False, description="one JSON object per log line (ours and the libraries'), for a collector"
    )
    log_customer_data: bool = Field(
        default=False,
        description="log customers' numbers, names and texts (redacted from log fields otherwise)",
    )
    access_log: bool = Field(
        default=False,
        description="one line per HTTP request; off by default: a busy number's webhook alone would write "
        "one per delivery (each is kept in the database anyway, and each refusal is logged)",
    )

    @model_validator(mode="before")
    @classmethod
    def _empty_is_unset(cls, values: Any) -> Any:
        """`HANDOFF_CONFIG=`, `OPENAI_API_KEY=` (an uncommented line of `.env.example`, a compose
        variable left empty): a setting that may be unset is unset, not a value to parse."""
        if not isinstance(values, dict):
            return values
        optional = {
            alias
            for name, field in cls.model_fields.items()
            if field.default is None and field.default_factory is None
            for alias in (name, *_aliases(field.validation_alias))
        }
        return {
            k: v for k, v in values.items() if not (k in optional and isinstance(v, str) and not v.strip())
        }

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("HANDOFF_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith("sqlite") and _sqlite_file(value).strip() in ("", ":memory:"):
            raise ValueError(
                "names no SQLite file (an in-memory database would be lost at each start): "
                "sqlite:///path/to/handoff.db"
            )
        return value

    @field_validator("whatsapp_api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _config_exists(self) -> Settings:
        if self.config is not None and not self.config.is_file():
            raise ValueError(f"HANDOFF_CONFIG points to {self.config}, which is not a file")
        return self

    @field_validator("whatsapp_app_secret", "whatsapp_verify_token", "whatsapp_access_token")
    @classmethod
    def _not_blank(cls, value: SecretStr) -> SecretStr:
        # An empty app secret would refuse every webhook (no signature matches), an empty verify
        # token every subscription, an empty access token every send: say so at start instead.
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("HANDOFF_JWT_SECRET needs at least 32 characters (HS256 key)")
        return value

    @model_validator(mode="after")
    def _turns_somewhere(self) -> Settings:
        if not self.run_turns and not self.is_postgres:
            raise ValueError(
                "HANDOFF_RUN_TURNS=false needs PostgreSQL (workers are woken by NOTIFY); on SQLite one "
                "process runs everything"
            )
        return self

    @model_validator(mode="after")
    def _webhook_is_signed(self) -> Settings:
        if self.notify_webhook_url and not (
            self.notify_webhook_secret and self.notify_webhook_secret.get_secret_value()
        ):
            raise ValueError(
                "HANDOFF_NOTIFY_WEBHOOK_URL needs HANDOFF_NOTIFY_WEBHOOK_SECRET (deliveries are signed)"
            )
        if self.notify_webhook_url and not self.notify_webhook_url.startswith(("http://", "https://")):
            raise ValueError("HANDOFF_NOTIFY_WEBHOOK_URL must be an http(s) URL")
        return self

    def unsafe_defaults(self) -> list[str]:
        """The secrets still at their public development values, as the variables to set."""
        values = {
            "HANDOFF_WHATSAPP_APP_SECRET": self.whatsapp_app_secret,
            "HANDOFF_WHATSAPP_VERIFY_TOKEN": self.whatsapp_verify_token,
            "HANDOFF_WHATSAPP_ACCESS_TOKEN": self.whatsapp_access_token,
        }
        return [name for name, value in values.items() if value.get_secret_value() == DEV_SECRETS[name]]

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def llm_enabled(self) -> bool:
        return self.openai_api_key is not None and bool(self.openai_api_key.get_secret_value())


_current: list[Settings] = []  # the process's settings, once read


def get_settings() -> Settings:
    """The process's settings: read from the environment and `.env` at the first call, then the same
    object until `use_settings` replaces it."""
    if not _current:
        _current.append(Settings())
    return _current[0]


def use_settings(settings: Settings | None) -> None:
    """Make `settings` what `get_settings()` returns from now on (a fleet's reload, once they are
    checked, for the processes it forks next); None reads them again at the next call."""
    _current[:] = [] if settings is None else [settings]

"""Service settings: one `Settings` read from the environment (and `.env`), validated at start.

Names follow the configuration contract in DESIGN.md. `get_settings()` is cached; tests build their own
`Settings(...)` and hand it to `create_app(settings=...)` instead of patching the environment.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///var/handoff.db"
# Public development values: a deployment that still uses one of them is refused unless in dev mode.
DEV_SECRETS = {
    "HANDOFF_WHATSAPP_APP_SECRET": "dev-app-secret",
    "HANDOFF_WHATSAPP_VERIFY_TOKEN": "dev-verify-token",
    "HANDOFF_WHATSAPP_ACCESS_TOKEN": "dev-access-token",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_prefix="HANDOFF_", extra="ignore")

    # Development mode accepts the public development secrets and the demo accounts of the shipped
    # configuration (`make run`, `handoff demo` and the tests turn it on); a deployment leaves it off.
    dev_mode: bool = False
    # A trial run: the demo accounts of the configuration stay present without heartbeats.
    demo_presence: bool = False
    database_url: str = DEFAULT_DATABASE_URL
    config: Path | None = Field(default=None, description="departments/routing/menu/messages file")

    whatsapp_app_secret: SecretStr = SecretStr("dev-app-secret")
    whatsapp_verify_token: SecretStr = SecretStr("dev-verify-token")
    whatsapp_access_token: SecretStr = SecretStr("dev-access-token")
    whatsapp_phone_number_id: str = "000000000000000"
    whatsapp_api_url: str = "https://graph.facebook.com"
    whatsapp_api_version: str = "v25.0"

    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "HANDOFF_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "HANDOFF_OPENAI_BASE_URL")
    )
    llm_model: str = "gpt-4.1-mini"
    llm_timeout_s: float = 8.0

    # A burst of customer messages is one turn (DESIGN.md flow step 2): the turn starts once the
    # customer has sent nothing for `burst_quiet_s`, and at the latest `burst_window_s` after the
    # burst's first message (0: at once).
    burst_window_s: float = Field(default=1.5, ge=0)
    burst_quiet_s: float = Field(default=0.4, ge=0)
    # Background loops: timers (SLA, presence, opening hours) and stuck-turn recovery.
    timer_interval_s: float = Field(default=5.0, gt=0)
    run_background: bool = True
    # Customers' turns in this process. `false` (PostgreSQL only) makes an acknowledge-only API
    # process: the webhook stores the delivery, wakes the workers (NOTIFY) and answers; `handoff
    # worker` processes apply the delivery and run the turns (orchestrator/runtime/wakeup.py).
    run_turns: bool = True
    # Retention (orchestrator/runtime/retention.py): days each kind of record is kept, and how often
    # the background loop prunes. Conversations, messages, the context log and assignments are kept.
    retention_deliveries_days: float = Field(default=7, gt=0)
    retention_statuses_days: float = Field(default=30, gt=0)
    retention_timers_days: float = Field(default=7, gt=0)
    retention_audit_days: float = Field(default=365, gt=0)
    # Media files (photos, voice notes, documents) are kept as long as their messages unless this is
    # set: then each file's bytes go this many days after it was stored (the message stays, marked so).
    retention_media_days: float | None = Field(default=None, gt=0)
    retention_interval_s: float = Field(default=3600, gt=0)
    # One worker per conversation: the turn lease, renewed every third of it while the loop runs; a
    # dead process's conversations resume once it lapses.
    turn_lease_s: float = Field(default=15.0, ge=1)
    # Turns running the graph at once in one process (the rest wait their turn, lease held): keeps
    # webhook acknowledgements and lease renewals answered while a backlog is worked through.
    turn_concurrency: int = Field(default=4, ge=1)
    # An outbound message's send claim; longer than the Graph client's worst case (see outbox).
    send_claim_s: float = Field(default=90.0, ge=1)

    # Media (orchestrator/media.py): the largest file fetched from or sent to WhatsApp (Meta's own
    # limits: image 5 MB, audio and video 16 MB, document 100 MB), and how often a failed fetch of a
    # customer's media is tried before it is given up (shown to reps either way).
    media_max_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    media_fetch_attempts: int = Field(default=5, ge=1)

    # Rep API access tokens (OAuth2 password flow): HS256 JWTs. Without a configured secret each
    # start signs with a random one (`handoff serve --workers N` hands its own to its processes), so
    # set it when API processes are started separately (or on several machines).
    jwt_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
    jwt_ttl_minutes: int = Field(default=60, gt=0)
    # Optional outbound webhook for integrations: every rep notification POSTed as JSON, signed with
    # HMAC-SHA256 of the body in `X-Handoff-Signature-256: sha256=<hex>`.
    notify_webhook_url: str | None = None
    notify_webhook_secret: SecretStr | None = None
    sql_echo: bool = False
    # Logs: JSON lines for a collector, or the console renderer; customers' numbers, names and texts
    # are redacted from log fields unless this deployment opts in.
    log_json: bool = False
    log_customer_data: bool = False
    # One line per HTTP request (uvicorn's access log). Off by default: a busy number's webhook alone
    # would write a line per delivery (up to a thousand a second), and rendering them cost a sixth of
    # the acknowledgement's CPU. Each delivery is kept in the database anyway (`webhookdelivery`)
    # and each refusal is logged as an event.
    access_log: bool = False

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("HANDOFF_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL")
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


@lru_cache
def get_settings() -> Settings:
    return Settings()

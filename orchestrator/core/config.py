"""The operator's configuration file: queues, routing, menu, qualification, messages, hours, reps.

YAML, validated by pydantic at start. `load_config(path)` raises `ConfigError` whose message names the
key and the problem (``queues[support].hours.weekly: mon: '9-5' is not HH:MM-HH:MM``), so a bad file fails
loudly instead of misrouting customers later.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from functools import cached_property
from importlib import resources
from pathlib import Path
from string import Template
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from orchestrator.core.enums import HandoffReason, Role, SignalKind

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
FIELD_NAMES = ("company_name", "use_case", "email", "business_size", "budget")


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or invalid; the message names the key."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_SHORTHAND = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(value: Any) -> Any:
    """`90s`, `15m`, `2h`, `1d` as well as what pydantic reads itself (ISO 8601 such as `PT30S`,
    or a number of seconds)."""
    if isinstance(value, str) and (match := _SHORTHAND.match(value)):
        return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2]])
    return value


# A length of time in the configuration: `30s`, `15m`, `2h`, `1d`, ISO 8601 (`PT15M`) or seconds.
Duration = Annotated[timedelta, BeforeValidator(_duration)]


def _legacy_durations(data: Any, names: dict[str, tuple[str, int]]) -> Any:
    """Read the older `<name>_minutes` / `<name>_seconds` keys as durations."""
    if isinstance(data, dict):
        data = dict(data)
        for old, (new, seconds) in names.items():
            if old in data and new in data:
                raise ValueError(f"{old} is the older spelling of {new}: give one of them")
            if old in data:
                value = data.pop(old)
                data[new] = value * seconds if isinstance(value, int | float) and value is not None else value
    return data


def describe_duration(value: timedelta) -> str:
    """A duration as people write it: `45 seconds`, `15 minutes`, `1 hour 30 minutes`."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
    return " ".join(parts) or "0 seconds"


Localized = dict[str, str]


class Hours(_Model):
    timezone: str = "UTC"
    always_open: bool = False
    weekly: dict[str, str | list[str]] = Field(default_factory=dict)
    closed_dates: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @field_validator("weekly")
    @classmethod
    def _weekly(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        for day, spans in value.items():
            if day not in DAYS:
                raise ValueError(f"unknown day {day!r}; use {', '.join(DAYS)}")
            for span in [spans] if isinstance(spans, str) else spans:
                if not _SPAN.match(span):
                    raise ValueError(f"{day}: {span!r} is not HH:MM-HH:MM")
        return value

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _spans(self, day: date) -> list[tuple[time, time | None]]:
        if day in self.closed_dates:
            return []
        raw = self.weekly.get(DAYS[day.weekday()], [])
        out: list[tuple[time, time | None]] = []
        for span in [raw] if isinstance(raw, str) else raw:
            start, end = span.split("-")
            end_t = None if end == "24:00" else time.fromisoformat(end)
            out.append((time.fromisoformat(start), end_t))
        return out

    def is_open(self, at: datetime) -> bool:
        if self.always_open:
            return True
        local = at.astimezone(self.zone)
        return any(
            start <= local.time() and (end is None or local.time() < end)
            for start, end in self._spans(local.date())
        )

    def open_until(self, at: datetime) -> datetime | None:
        """The end of the open span containing `at` (aware); None when always open or closed at `at`."""
        if self.always_open:
            return None
        local = at.astimezone(self.zone)
        for start, end in self._spans(local.date()):
            if start <= local.time() and (end is None or local.time() < end):
                if end is None:  # "24:00": midnight at the end of this day
                    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=self.zone)
                return datetime.combine(local.date(), end, tzinfo=self.zone)
        return None

    def next_opening(self, at: datetime) -> datetime | None:
        """The next moment (aware, in the queue's zone) the queue opens after `at`; None if never."""
        if self.always_open:
            return at
        local = at.astimezone(self.zone)
        for offset in range(0, 370):
            day = local.date() + timedelta(days=offset)
            for start, _end in sorted(self._spans(day)):
                candidate = datetime.combine(day, start, tzinfo=self.zone)
                if candidate > local:
                    return candidate
        return None


class QueueConfig(_Model):
    slug: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    # What customers read ("our ... team"); the name when unset.
    customer_name: str | None = None
    hours: Hours = Field(default_factory=lambda: Hours(always_open=True))
    transfers_only: bool = False
    sla: Duration | None = None  # this queue's SLA; timers.sla when unset
    # What happens to an offline rep's conversations in this queue (default: timers.offline_policy).
    offline_policy: Literal["requeue", "keep"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _older_keys(cls, data: Any) -> Any:
        return _legacy_durations(data, {"sla_minutes": ("sla", 60)})

    @field_validator("sla")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value


class RuleCondition(_Model):
    has_referral: bool | None = None
    ad_source_id: list[str] | None = None
    country: list[str] | None = None
    # International calling codes (44: every +44 number, Guernsey, Jersey and the Isle of Man
    # included, which `country` names apart).
    calling_code: list[int] | None = None
    language: list[str] | None = None
    reason: list[HandoffReason] | None = None
    # Any of the handoff's signal kinds, e.g. [order]: a catalogue order (its reason is `qualified`,
    # like a lead's) can have a queue of its own.
    signal: list[SignalKind] | None = None
    queue: list[str] | None = None


class RoutingRule(_Model):
    name: str
    when: RuleCondition
    queue: str
    priority: int | None = None  # waiting-queue priority of matching conversations (higher first)


class RoutingConfig(_Model):
    rules: list[RoutingRule] = Field(default_factory=list)
    reason_defaults: dict[HandoffReason, str] = Field(default_factory=dict)
    # Waiting-queue priority by handoff reason (higher first; 0 when unset: plain FIFO).
    reason_priority: dict[HandoffReason, int] = Field(default_factory=dict)
    refine: list[RoutingRule] = Field(default_factory=list)
    fallback: str = "general"
    # A queue no rep who can sign in is a member of: its customers would wait with nobody to
    # answer them, so they go to the fallback queue instead (when someone is in that one).
    unstaffed_to_fallback: bool = True


class MenuButton(_Model):
    id: str = Field(max_length=256)
    title: str = Field(max_length=20)
    queue: str


class MenuConfig(_Model):
    body: Localized
    buttons: list[MenuButton] = Field(min_length=1, max_length=3)


class FlowConfig(_Model):
    required: list[str]
    optional: list[str] = Field(default_factory=list)

    @field_validator("required", "optional")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in FIELD_NAMES:
                raise ValueError(f"unknown field {name!r}; known: {', '.join(FIELD_NAMES)}")
        return value


class QualificationConfig(_Model):
    flows: dict[str, FlowConfig]
    questions: dict[str, Localized]


EscalationStep = Literal["lead", "catch_all"]
DEFAULT_ESCALATION: tuple[EscalationStep, ...] = ("lead", "catch_all")


class TimersConfig(_Model):
    """Durations accept `30s`, `15m`, `2h`, ISO 8601 or seconds, so an SLA can be tried in seconds."""

    sla: Duration = timedelta(minutes=15)
    max_revocations: int = Field(default=2, ge=0)
    offline: Duration = timedelta(minutes=10)
    heartbeat_ttl: Duration = timedelta(seconds=90)
    offline_policy: Literal["requeue", "keep"] = "requeue"
    # The owner is warned this long before the SLA revokes the assignment (0: no warning).
    sla_warning: Duration = timedelta(minutes=5)
    # Where a conversation goes after `max_revocations`: the queue's team lead, then the catch-all.
    escalation: list[EscalationStep] = Field(default_factory=lambda: list(DEFAULT_ESCALATION))

    @model_validator(mode="before")
    @classmethod
    def _older_keys(cls, data: Any) -> Any:
        return _legacy_durations(
            data,
            {
                "sla_minutes": ("sla", 60),
                "sla_warning_minutes": ("sla_warning", 60),
                "offline_minutes": ("offline", 60),
                "heartbeat_ttl_seconds": ("heartbeat_ttl", 1),
            },
        )

    @field_validator("sla", "offline", "heartbeat_ttl")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    @field_validator("sla_warning")
    @classmethod
    def _not_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value


class AssignmentConfig(_Model):
    # Fair backlog drain: while waiting conversations are handed out, a rep takes at most
    # `backlog_burst` of them per window of `backlog_window_seconds` (windows aligned to fixed
    # boundaries, shared by all reps), so reps who log in a little later get their share instead
    # of the whole backlog landing on the first one.
    backlog_burst: int = Field(default=2, ge=1)
    backlog_window_seconds: int = Field(default=60, gt=0)


class AgentsConfig(_Model):
    fallbacks_before_handoff: int = Field(default=2, ge=1)
    # The model's answer is sent only at or above this confidence; below it the bot falls back
    # (knowledge base, then "sorry" and in the end an `unresolved` handoff) instead of guessing.
    answer_min_confidence: float = Field(default=0.6, ge=0, le=1)
    knowledge_threshold: float = Field(default=85, ge=0, le=100)
    loop_similarity: float = Field(default=85, ge=0, le=100)


class KnowledgeEntry(_Model):
    id: str
    questions: list[str] = Field(min_length=1)
    answer: Localized


class RepConfig(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: str
    role: Role = Role.REP
    queues: list[str] = Field(default_factory=list)
    capacity: int = Field(default=5, ge=0)
    token: str | None = None


_TEMPLATE_PARAMETER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


def template_parameters(body: str) -> list[str]:
    """The parameters of a template body, in order of first use: `{{1}}`, `{{2}}`... (positional) or
    `{{first_name}}`... (named)."""
    seen: dict[str, None] = {}
    for match in _TEMPLATE_PARAMETER.finditer(body):
        seen.setdefault(match.group(1), None)
    return list(seen)


class TemplateConfig(_Model):
    """An approved WhatsApp message template (approved in Meta's WhatsApp Manager; this file only
    lists it so reps can send it when the 24-hour customer-service window is closed). `bodies` gives
    the body text per approved language code (`en_US`, `es`, `pt_BR`...), with the parameters as the
    template declares them: all positional (`{{1}}`, `{{2}}`...) or all named (`{{first_name}}`)."""

    name: str = Field(pattern=r"^[a-z0-9_]{1,512}$")
    category: Literal["utility", "marketing", "authentication"] = "utility"
    description: str = ""
    bodies: dict[str, str] = Field(min_length=1)

    @field_validator("bodies")
    @classmethod
    def _same_parameters(cls, value: dict[str, str]) -> dict[str, str]:
        expected: list[str] | None = None
        for language, body in value.items():
            if not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", language):
                raise ValueError(f"{language!r} is not a language code such as en, en_US or pt_BR")
            found = template_parameters(body)
            digits = [p.isdigit() for p in found]
            if any(digits) and not all(digits):
                raise ValueError(f"{language}: parameters must be all positional or all named")
            if all(digits) and sorted(int(p) for p in found) != list(range(1, len(found) + 1)):
                raise ValueError(
                    f"{language}: positional parameters must be {{{{1}}}}..{{{{n}}}} without gaps"
                )
            if expected is not None and sorted(found) != sorted(expected):
                raise ValueError(f"{language}: every language must take the same parameters")
            expected = found
        return value

    @property
    def parameters(self) -> list[str]:
        """The parameters in the order they are sent (positional: 1, 2...; named: first use)."""
        found = template_parameters(next(iter(self.bodies.values())))
        return sorted(found, key=int) if self.positional else found

    @property
    def positional(self) -> bool:
        found = template_parameters(next(iter(self.bodies.values())))
        return all(p.isdigit() for p in found)

    def preview(self, language: str, values: dict[str, str]) -> str:
        """The body in `language` with the given values in place (a missing one stays `{{name}}`)."""
        return _TEMPLATE_PARAMETER.sub(lambda m: values.get(m.group(1), m.group(0)), self.bodies[language])


REQUIRED_MESSAGES = (
    "handoff_assigned",
    "handoff_waiting",
    "handoff_after_hours",
    "ai_unavailable",
    "fallback",
    "acknowledgement",
    "resumed",
    "unsupported_message",
)
# Messages a configuration may leave out: the shipped English text is used then.
DEFAULT_MESSAGES: dict[str, dict[str, str]] = {
    "greeting": {"en": "Hi again! What can I help you with?"},
    "go_ahead": {"en": "Of course, go ahead: what would you like to know?"},
    "noted": {"en": "Thanks for telling us! What would you like to know?"},
    "see_you": {"en": "Sounds good! Write here whenever you're ready; we'll pick up where we left off."},
    "bot_identity": {
        "en": "Yes, I'm the virtual assistant. I can answer most questions here, or bring in a person "
        "from our team: just say yes."
    },
    "fallback_offer": {
        "en": "Sorry, I can't answer that one either. Would you like a person from our team to take "
        "over? Just say yes."
    },
    "answer_failed": {
        "en": "Sorry that didn't solve it. Would you like a person from our team to take over? Just say yes."
    },
    "media_received": {"en": "Thanks, I've received it and kept it for our team."},
    "order_received": {
        "en": "Your order has reached us. A person from our team will check it and confirm it with you here."
    },
    "rep_joined": {
        "en": "${rep_name} from our ${queue_name} team has your conversation now and will reply here."
    },
    "transferred": {
        "en": "I've passed your conversation to our ${queue_name} team, with everything you told us. "
        "They'll reply here."
    },
    "transferred_after_hours": {
        "en": "I've passed your conversation to our ${queue_name} team, with everything you told us. "
        "They're closed right now; they're back ${opens_at} and will reply here first thing."
    },
}


class AppConfig(_Model):
    version: Literal[1] = 1
    default_language: str = "en"
    queues: list[QueueConfig] = Field(min_length=1)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    menu: MenuConfig
    qualification: QualificationConfig
    messages: dict[str, Localized]
    timers: TimersConfig = Field(default_factory=TimersConfig)
    assignment: AssignmentConfig = Field(default_factory=AssignmentConfig)
    agents: AgentsConfig = Field(default_factory=AgentsConfig)
    knowledge: list[KnowledgeEntry] = Field(default_factory=list)
    reps: list[RepConfig] = Field(default_factory=list)
    templates: list[TemplateConfig] = Field(default_factory=list)

    @field_validator("messages")
    @classmethod
    def _default_messages(cls, value: dict[str, Localized]) -> dict[str, Localized]:
        return {**DEFAULT_MESSAGES, **value}

    @model_validator(mode="after")
    def _references(self) -> AppConfig:
        slugs = [q.slug for q in self.queues]
        if len(set(slugs)) != len(slugs):
            raise ValueError("queues: slugs must be unique")
        known = set(slugs)

        def check(where: str, slug: str) -> None:
            if slug not in known:
                raise ValueError(f"{where}: unknown queue {slug!r}; defined: {', '.join(slugs)}")

        for rule in self.routing.rules:
            check(f"routing.rules[{rule.name}].queue", rule.queue)
        for rule in self.routing.refine:
            check(f"routing.refine[{rule.name}].queue", rule.queue)
            for slug in rule.when.queue or []:
                check(f"routing.refine[{rule.name}].when.queue", slug)
        for reason, slug in self.routing.reason_defaults.items():
            check(f"routing.reason_defaults.{reason}", slug)
        for rule in self.routing.rules:
            for slug in rule.when.queue or []:
                check(f"routing.rules[{rule.name}].when.queue", slug)
        check("routing.fallback", self.routing.fallback)
        for button in self.menu.buttons:
            check(f"menu.buttons[{button.id}].queue", button.queue)
        titles = [b.title for b in self.menu.buttons]
        if len(set(titles)) != len(titles):
            raise ValueError("menu.buttons: titles must be unique (WhatsApp rule)")
        for rep in self.reps:
            for slug in rep.queues:
                check(f"reps[{rep.id}].queues", slug)
        if len({r.id for r in self.reps}) != len(self.reps):
            raise ValueError("reps: ids must be unique")
        if len({t.name for t in self.templates}) != len(self.templates):
            raise ValueError("templates: names must be unique")
        for name in REQUIRED_MESSAGES:
            if self.default_language not in self.messages.get(name, {}):
                raise ValueError(f"messages.{name}: missing (needs at least '{self.default_language}')")
        for flow_name, flow in self.qualification.flows.items():
            for field in flow.required:
                if self.default_language not in self.qualification.questions.get(field, {}):
                    raise ValueError(
                        f"qualification.questions.{field}: missing, needed by flow {flow_name!r}"
                    )
        for entry in self.knowledge:
            if self.default_language not in entry.answer:
                raise ValueError(f"knowledge[{entry.id}].answer: needs '{self.default_language}'")
        return self

    # -- lookups ---------------------------------------------------------------------------
    def queue(self, slug: str) -> QueueConfig:
        for q in self.queues:
            if q.slug == slug:
                return q
        raise KeyError(slug)

    def localized(self, table: Localized, language: str | None) -> str:
        return table.get(language or "", table.get(self.default_language, next(iter(table.values()))))

    def message(self, name: str, language: str | None, **values: str) -> str:
        return Template(self.localized(self.messages[name], language)).safe_substitute(values)

    def template(self, name: str) -> TemplateConfig | None:
        return next((t for t in self.templates if t.name == name), None)

    def button_for(self, *, reply_id: str | None, title: str | None) -> MenuButton | None:
        for button in self.menu.buttons:
            if reply_id and reply_id == button.id:
                return button
        for button in self.menu.buttons:
            if title and title.strip().casefold() == button.title.casefold():
                return button
        return None


# The key that names an item of a list in the file: `reps[harry]`, `queues[support]`.
_ITEM_NAMES = ("id", "slug", "name")


def _item_name(item: Any, index: int) -> str:
    """An item of a list in the file as an operator finds it: by its id, slug or name, else counted
    from 1 (`#2`)."""
    if isinstance(item, dict):
        for key in _ITEM_NAMES:
            if isinstance(item.get(key), str | int) and str(item[key]).strip():
                return str(item[key])
    return f"#{index + 1}"


def _where(data: Any, loc: tuple[int | str, ...]) -> str:
    """A location in the file: `queues[support].hours.weekly`, `routing.rules[#1].queue`."""
    out, node = "", data
    for key in loc:
        if isinstance(key, int):
            item = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
            out += f"[{_item_name(item, key)}]"
            node = item
        else:
            out += f".{key}" if out else str(key)
            node = node.get(key) if isinstance(node, dict) else None
    return out


def _describe(exc: ValidationError, data: Any) -> str:
    lines = []
    for err in exc.errors():
        message = err["msg"].removeprefix("Value error, ")
        if err["type"].startswith("time_delta"):
            message = (
                f"{err['input']!r} is not a length of time: 30s, 15m, 2h, 1d, ISO 8601 (PT15M) or seconds"
            )
        where = _where(data, err["loc"])
        # A check of the whole file names its own key ("reps[harry].queues: unknown queue").
        lines.append(f"{where}: {message}" if where else message)
    return "; ".join(lines)


def parse_config(data: Any, *, source: str = "<config>") -> AppConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_describe(exc, data)}") from exc


def default_config_text() -> str:
    return resources.files("orchestrator").joinpath("defaults/config.yaml").read_text(encoding="utf-8")


def load_config(path: Path | None = None) -> AppConfig:
    """Load and validate `path`, or the shipped default when None."""
    if path is None:
        source, text = "default config", default_config_text()
    else:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    return parse_config(data, source=source)

"""The typed, immutable shape of ``app.yaml`` and the questions other modules ask of it.

Every model is strict and frozen (:mod:`bot.config.base`); who works when (hours,
the calendar, members, rotations, pods) is :mod:`bot.config.roster`. Validation of
:class:`AppConfig` collects structural errors and broken cross-references into one
``ValidationError`` whose messages are already in the deployer's words;
:func:`bot.config.load_config` adds file names and lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import quote
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    NonNegativeInt,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from bot.config.base import Keyed, Model, Unique
from bot.config.checks import cross_check
from bot.config.durations import SlaTarget, format_duration
from bot.config.errors import Loc, describe
from bot.config.fields import (
    ID_PLACEHOLDER,
    LANGUAGE_NAMES,
    ChannelId,
    CronExpr,
    DigestName,
    Duration,
    EnvName,
    LanguageCode,
    Regex,
    RegionCode,
    ReviewLink,
    SevName,
    SlaDuration,
    Slug,
    TeamId,
    Text,
    TimeZoneName,
    UserId,
    normalize_content_id,
)
from bot.config.qa import Qa
from bot.config.roster import Calendar, Member, Pod

Section = Literal["volumes", "backlog", "turnaround", "sla", "vendors", "followups", "trends"]
SECTIONS: tuple[Section, ...] = get_args(Section)


class Workspace(Model):
    team_id: TeamId | None = None
    intake_channel: ChannelId
    timezone: TimeZoneName
    admins: Annotated[tuple[UserId, ...], Unique] = ()
    calendar: Calendar = Calendar()


class PolicyArea(Keyed):
    title: Text
    pod: Slug
    sensitive: bool = False
    #: Let Slack preview (unfurl) the reported links in posts about this area's tickets; off
    #: by default: a preview shows the content to the whole channel and Slack's crawler
    #: visits it. Never on for a sensitive area's tickets.
    link_previews: bool = False
    policy_sections: tuple[str, ...] = ()
    description: str = ""


class Severity(Keyed):
    title: Text
    ack_within: SlaDuration
    resolve_within: SlaDuration
    clock: Literal["24x7", "business_hours"] = "24x7"

    @model_validator(mode="after")
    def _working_needs_business_hours(self) -> Severity:
        for key in ("ack_within", "resolve_within"):
            if self.clock == "24x7" and getattr(self, key).working:
                raise ValueError(
                    f"{key} is in working time, but clock 24x7 counts every hour: "
                    "set clock: business_hours, or drop 'working'"
                )
        return self

    @property
    def business_hours(self) -> bool:
        return self.clock == "business_hours"

    def spell(self, which: str) -> str:
        """``ack_within``/``resolve_within`` with the unit in words: "2 working days"."""
        target: SlaTarget = getattr(self, which)
        return target.spell(self.business_hours)

    @field_validator("resolve_within")
    @classmethod
    def _resolve_after_ack(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        ack = info.data.get("ack_within")
        if ack is not None and value <= ack:
            raise ValueError(
                f"{format_duration(value)} must be longer than ack_within ({format_duration(ack)})"
            )
        return value


class Sla(Model):
    at_risk_fraction: float = Field(default=0.75, gt=0, lt=1)


DEFAULT_WEIGHTS: dict[str, int] = {"sev0": 8, "sev1": 4, "sev2": 2, "sev3": 1}


def _with_default_weights(value: Any) -> Any:
    """Weights left out keep their default, so one can be tuned without restating all."""
    return {**DEFAULT_WEIGHTS, **value} if isinstance(value, Mapping) else value


class Routing(Model):
    strategy: Literal["least_loaded", "round_robin"] = "least_loaded"
    language: Literal["preferred", "required"] = "preferred"
    severity_weights: Annotated[
        dict[SevName, NonNegativeInt], BeforeValidator(_with_default_weights)
    ] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    oncall_severities: Annotated[tuple[SevName, ...], Unique] = ("sev0", "sev1")
    #: ``prefer_on_shift``: an on-call severity goes to the first rotation member on shift,
    #: then anyone eligible on shift, and only then off-shift rotation members;
    #: ``around_the_clock``: to the first rotation member who can take it, whatever the hour.
    oncall_hours: Literal["prefer_on_shift", "around_the_clock"] = "prefer_on_shift"
    escalation_chain: Annotated[
        tuple[Literal["next_oncall", "lead"], ...], Field(min_length=1), Unique
    ] = ("next_oncall", "lead")


class Vendor(Keyed):
    name: Text
    quality_target: float = Field(0.9, ge=0, le=1)
    error_categories: Annotated[tuple[Slug, ...], Unique] = ()
    #: The vendor's Slack Connect channel: QA clarifications are posted there.
    channel: ChannelId | None = None
    #: The vendor's team leads (in the shared channel): they acknowledge clarifications.
    leads: Annotated[tuple[UserId, ...], Unique] = ()
    #: The environment variable holding this vendor's own token for ``POST /qa/decisions``:
    #: a batch sent with it may carry this vendor's decisions only.
    qa_token_env: EnvName | None = None


DEFAULT_DECISIONS = {
    "removed": "Removed",
    "restricted": "Restricted",
    "labelled": "Labelled",
    "no_violation": "No violation",
    "account_action": "Account action",
    "referred_legal": "Referred to legal",
    "other": "Other",
}


class Resolution(Model):
    decisions: Annotated[dict[Slug, Text], Field(min_length=1)] = Field(
        default_factory=lambda: dict(DEFAULT_DECISIONS)
    )
    reopen_window: Duration = timedelta(days=14)


DEFAULT_FOLLOWUP_KINDS = {
    "process": "Process gap",
    "procedure": "Procedure gap",
    "policy": "Policy gap",
    "tooling": "Tooling gap",
    "vendor_training": "Vendor training",
}


class Followups(Model):
    kinds: Annotated[dict[Slug, Text], Field(min_length=1)] = Field(
        default_factory=lambda: dict(DEFAULT_FOLLOWUP_KINDS)
    )
    remind_before: Duration = timedelta(days=1)
    overdue_every: Duration = timedelta(days=1)


class IntakeDefaults(Model):
    policy_area: str = ""  # empty: the first policy area, filled in by AppConfig
    severity: SevName = "sev2"
    language: LanguageCode | None = None
    region: RegionCode | None = None


class Intake(Model):
    defaults: IntakeDefaults = IntakeDefaults()
    regions: dict[RegionCode, Text] = Field(default_factory=dict)
    languages: dict[LanguageCode, Text] = Field(default_factory=lambda: {"en": "English"})
    source_teams: dict[Slug, Text] = Field(default_factory=dict)
    content_id_patterns: dict[Slug, Regex] = Field(default_factory=dict)
    #: The review tool's page per content id kind (a key of ``content_id_patterns``):
    #: ``{id}`` is replaced by the id after its ``prefix:``, percent-encoded.
    review_links: dict[Slug, ReviewLink] = Field(default_factory=dict)
    summary_max: int = Field(default=150, ge=20, le=150)

    def kind_of(self, ident: str) -> str | None:
        """The ``content_id_patterns`` kind content id ``ident`` is, if any."""
        key = normalize_content_id(ident)
        return next((k for k, p in self.content_id_patterns.items() if p.fullmatch(key)), None)

    def review_url(self, ident: str) -> str | None:
        """The review tool's page of content id ``ident`` (``post:77310`` →
        ``https://review.example.com/posts/77310``), or None without a pattern for its kind."""
        kind = self.kind_of(ident)
        pattern = self.review_links.get(kind) if kind else None
        if pattern is None:
            return None
        key = normalize_content_id(ident)
        value = key.partition(":")[2] or key
        return pattern.replace(ID_PLACEHOLDER, quote(value, safe=""))


class Limits(Model):
    """Per-person intake limits, so that one account (or a script behind it) can neither
    bury urgent work under a flood of tickets nor probe the desk through the duplicate
    check. ``None`` switches a limit off; ``exempt_severities`` are never refused (an
    imminent-harm report gets through) but still count, and are logged when over."""

    window: Duration = timedelta(minutes=10)
    tickets_per_user: Annotated[int, Field(ge=1)] | None = 10
    duplicate_checks_per_user: Annotated[int, Field(ge=1)] | None = 30
    content_items: int = Field(default=20, ge=1, le=200)
    exempt_severities: Annotated[tuple[SevName, ...], Unique] = ("sev0",)


class Digest(Model):
    name: DigestName
    cron: CronExpr
    timezone: TimeZoneName | None = None
    channel: ChannelId
    period: Literal["day", "week", "month"]
    sections: Annotated[tuple[Section, ...], Field(min_length=1), Unique] = SECTIONS
    chart: bool = True
    catch_up: Duration = timedelta(hours=12)
    #: Who reads the channel: ``internal`` (the desk; the default for a private channel) or
    #: ``public`` (anyone in the workspace; the default for a public one): keys, counts and
    #: areas only, never a sensitive ticket's summary nor content (bot/reporting/audience.py).
    audience: Literal["internal", "public"] | None = None
    #: A public digest's non-sensitive tickets show their summaries too.
    summaries: bool = False


class Retention(Model):
    """How long partners' words stay: details and content links are redacted after
    ``redact_after`` (from resolution); keys, metadata and the audit trail stay for KPIs.
    Bookkeeping goes too: the ids of handled Slack requests after ``requests_after``,
    delivered outbox messages after ``outbox_after``. The QA programme has its own periods:
    vendors' decisions (never drawn: deleted; drawn: content reference and agent redacted),
    grade notes, and clarifications' text, each counted from its own date."""

    redact_after: Duration | None = timedelta(days=365)
    requests_after: Duration = timedelta(days=7)
    outbox_after: Duration = timedelta(days=30)
    qa_decisions_after: Duration | None = timedelta(days=90)
    qa_grades_after: Duration | None = timedelta(days=365)
    qa_clarifications_after: Duration | None = timedelta(days=365)

    @field_validator("qa_decisions_after")
    @classmethod
    def _outlive_draws(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(days=14):
            raise ValueError(
                f"{format_duration(value)} is too short: the daily sample and the weekly "
                "calibration set are drawn from decisions of the days before (at least 14d)"
            )
        return value

    @field_validator("requests_after")
    @classmethod
    def _outlive_replays(cls, value: timedelta) -> timedelta:
        if value < timedelta(hours=1):
            raise ValueError(
                f"{format_duration(value)} is too short: a request id must be kept longer than "
                "Slack retries and replays a request (at least 1h)"
            )
        return value

    @field_validator("outbox_after")
    @classmethod
    def _outlive_delivery(cls, value: timedelta) -> timedelta:
        if value < timedelta(days=1):
            raise ValueError(
                f"{format_duration(value)} is too short: a delivered message must be kept while "
                "messages that thread on it may still be waiting (at least 1d)"
            )
        return value


class AppConfig(Model):
    """The whole of ``app.yaml``, validated; see docs/configuration.md for each key."""

    workspace: Workspace
    policy_areas: Annotated[dict[Slug, PolicyArea], Field(min_length=1)]
    severities: Annotated[
        dict[SevName, Severity], AfterValidator(lambda d: dict(sorted(d.items())))
    ]
    sla: Sla = Sla()
    pods: Annotated[dict[Slug, Pod], Field(min_length=1)]
    routing: Routing = Routing()
    vendors: dict[Slug, Vendor] = Field(default_factory=dict)
    resolution: Resolution = Resolution()
    followups: Followups = Followups()
    intake: Intake = Intake()
    limits: Limits = Limits()
    digests: tuple[Digest, ...] = ()
    retention: Retention = Retention()
    qa: Qa = Qa()

    _source: Path | None = PrivateAttr(None)

    @model_validator(mode="wrap")
    @classmethod
    def _validate_all(cls, data: Any, handler: Any) -> AppConfig:
        """Run field validation and the cross-reference checks, and raise once with both."""
        problems: list[tuple[Loc, str]] = []
        config: AppConfig | None = None
        try:
            config = handler(data)
        except ValidationError as err:
            problems = [describe(e, cls) for e in err.errors(include_url=False)]
        plain = config.model_dump() if config is not None else data
        if isinstance(plain, Mapping):
            problems += cross_check(plain)
        if problems or config is None:
            raise ValidationError.from_exception_data(
                cls.__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("config", "{reason}", {"reason": reason}),
                        loc=loc,
                        input=None,
                    )
                    for loc, reason in problems
                ],
            )
        return config._finish()

    def _finish(self) -> AppConfig:
        """Fill defaults that depend on other sections and tell entries their keys."""
        config = self
        if not self.intake.defaults.policy_area:
            defaults = self.intake.defaults.model_copy(
                update={"policy_area": next(iter(self.policy_areas))}
            )
            intake = self.intake.model_copy(update={"defaults": defaults})
            config = self.model_copy(update={"intake": intake})
        sections: list[Mapping[str, Keyed]] = [
            config.policy_areas,
            config.severities,
            config.pods,
            config.vendors,
            *(pod.rotations for pod in config.pods.values()),
        ]
        for section in sections:
            for key, entry in section.items():
                entry._key = key
        return config

    # -- questions other modules ask -------------------------------------------------

    @property
    def source(self) -> Path | None:
        """The file this was loaded from, if any (for messages and the summary)."""
        return self._source

    @property
    def team_tz(self) -> ZoneInfo:
        return ZoneInfo(self.workspace.timezone)

    def member(self, user_id: str) -> Member | None:
        return next((m for p in self.pods.values() if (m := p.member(user_id))), None)

    def area_title(self, area: str) -> str:
        """A policy area as people read it: ``graphic_violence`` → "Graphic violence"."""
        found = self.policy_areas.get(area)
        return found.title if found else area.replace("_", " ").capitalize()

    def language_name(self, code: str) -> str:
        """A language as people read it: ``pt`` → "Portuguese" (``intake.languages`` first)."""
        return self.intake.languages.get(code) or LANGUAGE_NAMES.get(code, code)

    def pod_for_area(self, area: str) -> Pod:
        """The pod owning policy area ``area``; ``KeyError`` if there is no such area."""
        return self.pods[self.policy_areas[area].pod]

    def specialists_for(self, area: str) -> tuple[Member, ...]:
        """Members of the owning pod with ``area`` among their skills."""
        return tuple(m for m in self.pod_for_area(area).members if area in m.skills)

    def is_pod_member(self, user_id: str) -> bool:
        """A member or the lead of any pod: a lead acts on tickets even when not routed any."""
        return any(user_id == p.lead or p.member(user_id) for p in self.pods.values())

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.workspace.admins

    def can_act(self, user_id: str) -> bool:
        """May take, reassign or resolve tickets: pod members, leads and admins."""
        return self.is_pod_member(user_id) or self.is_admin(user_id)

    def oncall(self, pod: str, when: datetime, offset: int = 0) -> str | None:
        """Who is on call for ``pod`` at aware ``when``; ``None`` without an on-call rotation."""
        rotation = self.pods[pod].oncall
        if rotation is None:
            return None
        tz = ZoneInfo(rotation.timezone) if rotation.timezone else self.team_tz
        return rotation.oncall_at(when, tz, offset)

    def digest(self, name: str) -> Digest | None:
        return next((d for d in self.digests if d.name == name), None)

    def digest_tz(self, digest: Digest) -> ZoneInfo:
        return ZoneInfo(digest.timezone) if digest.timezone else self.team_tz

    def digest_trigger(self, digest: Digest) -> CronTrigger:
        """The APScheduler trigger firing ``digest`` in its time zone."""
        return CronTrigger.from_crontab(digest.cron, timezone=self.digest_tz(digest))

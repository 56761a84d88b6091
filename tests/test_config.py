"""The configuration layer: the example app.yaml, every kind of bad file, durations."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pydantic
import pytest

from bot.config import (
    AppConfig,
    ConfigError,
    config_summary,
    format_duration,
    load_config,
    load_config_text,
    parse_duration,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "app.yaml"
GOOD = EXAMPLE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def cfg() -> AppConfig:
    return load_config(EXAMPLE)


def is_business_time(cfg: AppConfig, when: datetime) -> bool:
    """The team calendar read directly (days, hours, holidays, in the team's time zone):
    the reference the business-hours SLA clock is checked against."""
    calendar, tz = cfg.workspace.calendar, cfg.team_tz
    return not calendar.is_holiday(when.astimezone(tz).date()) and calendar.covers(when, tz)


def edit(old: str, new: str, text: str = GOOD) -> str:
    """``text`` with the one occurrence of ``old`` replaced (fails loudly if absent)."""
    assert text.count(old) == 1, f"fixture text not found exactly once: {old!r}"
    return text.replace(old, new)


def load_bad(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "app.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


# -- the example -------------------------------------------------------------------


def test_example_loads(cfg: AppConfig) -> None:
    assert cfg.source == EXAMPLE
    assert cfg.workspace.timezone == "Europe/Dublin"
    assert cfg.team_tz.key == "Europe/Dublin"
    assert list(cfg.severities) == ["sev0", "sev1", "sev2", "sev3"]
    sev0, sev2 = cfg.severities["sev0"], cfg.severities["sev2"]
    assert (sev0.ack_within, sev0.resolve_within, sev0.clock) == (
        timedelta(minutes=15),
        timedelta(hours=4),
        "24x7",
    )
    assert (sev2.ack_within, sev2.resolve_within, sev2.clock) == (
        timedelta(hours=4),
        timedelta(days=2),
        "business_hours",
    )
    assert cfg.policy_areas["graphic_violence"].sensitive
    assert not cfg.policy_areas["hateful_activities"].sensitive
    pod = cfg.pods["critical_harms"]
    assert len(pod.members) >= 7
    assert len({m.timezone.split("/")[0] for m in pod.members}) >= 3  # three continents
    assert pod.oncall is pod.rotations["primary"]
    assert len(cfg.vendors) >= 2
    assert [d.name for d in cfg.digests] == ["daily", "weekly"]
    assert cfg.intake.content_id_patterns["post"].fullmatch("post:123")
    assert not cfg.intake.content_id_patterns["account"].fullmatch("post:123")


def test_entries_know_their_keys(cfg: AppConfig) -> None:
    assert cfg.pods["critical_harms"].key == "critical_harms"
    assert cfg.policy_areas["self_harm"].key == "self_harm"
    assert cfg.severities["sev1"].key == "sev1"
    assert cfg.vendors["tejo_lisbon"].key == "tejo_lisbon"
    assert cfg.pods["critical_harms"].rotations["primary"].key == "primary"


@pytest.mark.parametrize(
    ("written", "working", "hours"),
    [
        ("2d", "2 working days", 18),
        ("2 working days", "2 working days", 18),
        ("5h", "5 working hours", 5),
        ("1 day and 4 hours", "1 working day 4 working hours", 13),
        ("8 hours 30 minutes", "8 working hours 30 minutes", 8.5),
        ("1w", "1 working week", 45),
    ],
)
def test_sla_targets_count_working_days_on_a_business_clock(
    tmp_path: Path, written: str, working: str, hours: float
) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(edit("resolve_within: 2 working days", f"resolve_within: {written}"))
    sev2 = load_config(path).severities["sev2"]
    assert sev2.spell("resolve_within") == working
    day = load_config(path).workspace.calendar.working_day
    assert sev2.resolve_within.seconds_on(day, 5) == hours * 3600


def test_summary_mentions_areas_members_digests(cfg: AppConfig) -> None:
    text = config_summary(cfg)
    assert "Europe/Dublin" in text and "C06H2KX8ESC" in text
    for area in cfg.policy_areas:
        assert area in text
    assert "[sensitive]" in text
    assert "TTA 15 minutes" in text and "TTR 4 hours" in text  # sev0, 24x7
    assert "TTA 4 working hours" in text and "TTR 2 working days" in text  # sev2
    assert "a working day is 9h" in text
    assert "7 members" in text
    for member in cfg.pods["critical_harms"].members:
        assert member.name in text
    assert "0 9 * * mon-fri" in text and "30 9 * * mon" in text
    assert "C06H2KX9KPI" in text
    assert "sun-thu" in text  # Wanjiru's week wraps past Sunday


def test_path_from_env_then_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESCBOT_CONFIG", str(EXAMPLE))
    assert load_config().source == EXAMPLE
    monkeypatch.delenv("ESCBOT_CONFIG")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.yaml").write_text(GOOD, encoding="utf-8")
    assert load_config().source == Path("app.yaml")


def test_helpers(cfg: AppConfig) -> None:
    pod = cfg.pods["critical_harms"]
    lead, lucia, admin = pod.lead, "U05MAD1LFZ3", "U02A7KQ3ZPM"
    assert cfg.member(lucia).name == "Lucía Fernández"
    assert cfg.member(lead) is None  # the lead is not a member in the example
    assert cfg.member("U0NOBODY") is None
    assert [key for key, p in cfg.pods.items() if p.member(lucia)] == ["critical_harms"]
    assert cfg.pod_for_area("graphic_violence") is pod
    with pytest.raises(KeyError):
        cfg.pod_for_area("spam")
    assert cfg.is_pod_member(lucia) and cfg.is_pod_member(lead)
    assert not cfg.is_pod_member(admin)
    assert cfg.is_admin(admin) and not cfg.is_admin(lucia)
    assert cfg.can_act(admin) and cfg.can_act(lead) and not cfg.can_act("U0NOBODY")
    assert {m.name for m in cfg.specialists_for("self_harm")} == {
        "Marcus Reed",
        "Andrea Santos",
        "Wanjiru Kamau",
    }


def test_working_hours_and_calendar(cfg: AppConfig) -> None:
    marcus = cfg.member("U05NYC3MRD8")
    # Tuesday 2025-03-04 15:00 UTC is 10:00 in New York.
    assert marcus.on_shift(datetime(2025, 3, 4, 15, 0, tzinfo=UTC))
    assert not marcus.on_shift(datetime(2025, 3, 4, 9, 0, tzinfo=UTC))
    assert is_business_time(cfg, datetime(2026, 3, 16, 10, 0, tzinfo=UTC))
    assert not is_business_time(cfg, datetime(2026, 3, 17, 10, 0, tzinfo=UTC))  # holiday
    assert not is_business_time(cfg, datetime(2026, 3, 21, 10, 0, tzinfo=UTC))  # Saturday


def test_oncall_rotation(cfg: AppConfig) -> None:
    order = cfg.pods["critical_harms"].rotations["primary"].members
    first = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)  # Dublin is on UTC in January
    assert cfg.oncall("critical_harms", first) == order[0]
    assert cfg.oncall("critical_harms", first - timedelta(minutes=1)) == order[-1]
    assert cfg.oncall("critical_harms", first, offset=1) == order[1]
    assert cfg.oncall("critical_harms", first + timedelta(weeks=len(order))) == order[0]
    # Summer time: the handoff stays at 09:00 Dublin (08:00 UTC).
    summer = datetime(2025, 7, 7, 8, 0, tzinfo=UTC)
    weeks = (date(2025, 7, 7) - date(2025, 1, 6)).days // 7
    assert cfg.oncall("critical_harms", summer) == order[weeks % len(order)]
    assert (
        cfg.oncall("critical_harms", summer - timedelta(seconds=1))
        == order[(weeks - 1) % len(order)]
    )


def test_digest_trigger_uses_team_time_zone(cfg: AppConfig) -> None:
    daily = cfg.digest("daily")
    assert cfg.digest("nope") is None
    trigger = cfg.digest_trigger(daily)
    saturday = datetime(2025, 7, 5, 12, 0, tzinfo=UTC)
    fire = trigger.get_next_fire_time(None, saturday)
    assert fire.astimezone(cfg.team_tz).replace(tzinfo=None) == datetime(2025, 7, 7, 9, 0)


def test_models_are_frozen(cfg: AppConfig) -> None:
    with pytest.raises(pydantic.ValidationError):
        cfg.workspace.timezone = "UTC"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        cfg.severities["sev0"].ack_within = timedelta(hours=1)  # type: ignore[misc]


def test_json_dump_round_trips(cfg: AppConfig) -> None:
    dumped = cfg.model_dump(mode="json")
    assert dumped["severities"]["sev0"]["ack_within"] == "15m"
    assert dumped["workspace"]["calendar"]["end"] == "18:00"
    assert dumped["intake"]["content_id_patterns"]["post"] == "^post:[0-9]+$"
    assert AppConfig.model_validate(dumped).model_dump() == cfg.model_dump()


def test_intake_default_area_falls_back_to_first_area() -> None:
    cfg = load_config_text(edit("    policy_area: hateful_activities\n", ""))
    assert cfg.intake.defaults.policy_area == "hateful_activities"
    assert cfg.source is None


def test_yaml_1_1_traps_are_plain_strings() -> None:
    """``no`` (Norwegian) is not false, ``18:00`` is not 1080, ``on`` is not true."""
    text = edit("    sw: Swahili\n", "    sw: Swahili\n    no: Norwegian\n")
    text = edit(
        'start: "08:00", end: "17:00"}\n        max_sensitive_per_day: 3',
        "start: 8:00, end: 17:00}\n        max_sensitive_per_day: 3",
        text,
    )
    text = edit("languages: [tl, en]", "languages: [tl, en, no]", text)
    cfg = load_config_text(text)
    assert cfg.intake.languages["no"] == "Norwegian"
    andrea = cfg.member("U05MNL8ASN4")
    assert (andrea.hours.start, andrea.hours.end) == (time(8), time(17))
    assert andrea.languages == ("tl", "en", "no")


def test_partial_severity_weights_keep_defaults() -> None:
    cfg = load_config_text(edit("    sev0: 8\n    sev1: 4\n", "    sev0: 20\n"))
    assert cfg.routing.severity_weights == {"sev0": 20, "sev1": 4, "sev2": 2, "sev3": 1}


# -- bad files: each problem reported with its exact key path ----------------------

BAD = [
    pytest.param(
        "oncall_hours: prefer_on_shift",
        "oncall_hours: always",
        "routing.oncall_hours: must be one of 'prefer_on_shift' or 'around_the_clock' "
        "(got 'always')",
        id="unknown-oncall-hours",
    ),
    pytest.param(
        "timezone: Africa/Nairobi",
        "timezone: Africa/Nairobbi",
        "pods.critical_harms.members[6].timezone: unknown time zone 'Africa/Nairobbi'",
        id="unknown-time-zone",
    ),
    pytest.param(
        "ack_within: 30m",
        "ack_within: 15x",
        "severities.sev1.ack_within: invalid duration '15x' (use e.g. 15m, 4h, 2d)",
        id="bad-duration",
    ),
    pytest.param(
        "  reopen_window: 14d",
        "  reopen_window: 0d",
        "resolution.reopen_window: invalid duration '0d': must be longer than zero",
        id="zero-duration",
    ),
    pytest.param(
        '"0 9 * * mon-fri"',
        '"0 25 * * mon-fri"',
        "digests[0].cron: invalid cron expression '0 25 * * mon-fri'",
        id="bad-cron",
    ),
    pytest.param(
        '"30 9 * * mon"',
        '"30 9 * *"',
        "digests[1].cron: invalid cron expression '30 9 * *': Wrong number of fields",
        id="cron-four-fields",
    ),
    pytest.param(
        '"0 9 * * mon-fri"',
        '"0 9 * * 1-5"',
        "digests[0].cron: invalid cron expression '0 9 * * 1-5': write days of week as names",
        id="cron-numeric-weekdays",
    ),
    pytest.param(
        "skills: [hateful_activities, self_harm]",
        "skills: [hate, self_harm]",
        "pods.critical_harms.members[4].skills[0]: unknown policy area 'hate'",
        id="unknown-skill",
    ),
    pytest.param(
        '    pod: critical_harms\n    sensitive: true\n    policy_sections:\n      - "GV',
        '    pod: critical_harm\n    sensitive: true\n    policy_sections:\n      - "GV',
        "policy_areas.graphic_violence.pod: unknown pod 'critical_harm'"
        " (did you mean 'critical_harms'?)",
        id="unknown-pod",
    ),
    pytest.param(
        "- id: U05SAO2BAL6",
        "- id: U05MAD1LFZ3",
        "pods.critical_harms.members[3].id: duplicate member id 'U05MAD1LFZ3'"
        " (also pods.critical_harms.members[0])",
        id="duplicate-member-id",
    ),
    pytest.param(
        "\nsla:\n",
        "\nslas:\n",
        "slas: unknown key (did you mean 'sla'?)",
        id="unknown-top-level-key",
    ),
    pytest.param(
        "        name: Jonas Becker\n",
        "        name: Jonas Becker\n        skils: [hateful_activities]\n",
        "pods.critical_harms.members[1].skils: unknown key (did you mean 'skills'?)",
        id="unknown-nested-key",
    ),
    pytest.param(
        "  strategy: least_loaded",
        "  strategy: least_loaded\n  stickiness: 1",
        "routing.stickiness: unknown key (expected one of: strategy, language,",
        id="unknown-key-lists-known",
    ),
    pytest.param(
        "  intake_channel: C06H2KX8ESC",
        "  # intake_channel: C06H2KX8ESC",
        "workspace.intake_channel: required key is missing",
        id="missing-intake-channel",
    ),
    pytest.param(
        "intake_channel: C06H2KX8ESC",
        'intake_channel: "#tns-escalations"',
        "workspace.intake_channel: not a Slack channel id: '#tns-escalations'",
        id="bad-channel-id",
    ),
    pytest.param(
        "    channel: C06H2KX9KPI          # #tns-escalations-kpi",
        "    channel: tns-escalations-kpi",
        "digests[0].channel: not a Slack channel id: 'tns-escalations-kpi'",
        id="bad-digest-channel",
    ),
    pytest.param(
        "lead: U04LQ2M8RTA",
        "lead: siobhan",
        "pods.critical_harms.lead: not a Slack user id: 'siobhan'",
        id="bad-user-id",
    ),
    pytest.param(
        "ack_within: 15m",
        "ack_within: 15 working minutes",
        "severities.sev0: ack_within is in working time, but clock 24x7 counts every hour",
        id="working-time-on-a-24x7-clock",
    ),
    pytest.param(
        "ack_within: 4 working hours",
        "ack_within: 3d",
        "severities.sev2.resolve_within: 2d must be longer than ack_within (3d)",
        id="ack-not-before-resolve",
    ),
    pytest.param(
        "members: [U05MAD1LFZ3, U05NYC3MRD8,",
        "members: [U05MAD1LFZ3, U09OUTSIDER,",
        "pods.critical_harms.rotations.primary.members[1]: 'U09OUTSIDER'"
        " is not a member of pod critical_harms",
        id="rotation-member-outside-pod",
    ),
    pytest.param(
        "oncall_rotation: primary",
        "oncall_rotation: primery",
        "pods.critical_harms.oncall_rotation: unknown rotation 'primery'",
        id="unknown-oncall-rotation",
    ),
    pytest.param(
        "handoff: mon 09:00",
        "handoff: monday morning",
        "pods.critical_harms.rotations.primary.handoff: invalid handoff 'monday morning'",
        id="bad-handoff",
    ),
    pytest.param(
        'start: "10:00", end: "19:00"',
        'start: "19:00", end: "10:00"',
        "pods.critical_harms.members[3].hours.end: must be later than start (19:00)",
        id="hours-end-before-start",
    ),
    pytest.param(
        'start: "10:00", end: "19:00"',
        'start: "10:00", end: "25:00"',
        "pods.critical_harms.members[3].hours.end: invalid time '25:00'",
        id="bad-time",
    ),
    pytest.param(
        "days: [sun, mon, tue, wed, thu]",
        "days: [sun, mon, tue, wed, wed]",
        "pods.critical_harms.members[6].hours.days: 'wed' is listed twice",
        id="weekday-twice",
    ),
    pytest.param(
        '"^acct:[0-9]+$"',
        '"^acct:[0-9+$"',
        "intake.content_id_patterns.account: invalid regular expression '^acct:[0-9+$'",
        id="bad-regex",
    ),
    pytest.param(
        '    comment: "https://review.example.com/comments/{id}"',
        '    reel: "https://review.example.com/reels/{id}"',
        "intake.review_links.reel: unknown content id kind 'reel': "
        "each needs its pattern in intake.content_id_patterns",
        id="review-link-unknown-kind",
    ),
    pytest.param(
        '"https://review.example.com/posts/{id}"',
        '"http://review.example.com/posts/{id}"',
        "intake.review_links.post: must be an https:// URL with a host "
        "(got 'http://review.example.com/posts/{id}'",
        id="review-link-not-https",
    ),
    pytest.param(
        '"https://review.example.com/posts/{id}"',
        '"https://[::1/posts/{id}"',
        "intake.review_links.post: must be an https:// URL with a host "
        "(got 'https://[::1/posts/{id}'",
        id="review-link-unparsable",
    ),
    pytest.param(
        '"https://review.example.com/posts/{id}"',
        '"https://review.example.com/posts/"',
        "intake.review_links.post: must contain {id} exactly once, where the content id goes",
        id="review-link-no-placeholder",
    ),
    pytest.param(
        '"https://review.example.com/posts/{id}"',
        '"https://review.example.com/{id}/posts/{id}"',
        "intake.review_links.post: must contain {id} exactly once",
        id="review-link-two-placeholders",
    ),
    pytest.param(
        '"https://review.example.com/posts/{id}"',
        '"https://review.example.com/{kind}/{id}"',
        "intake.review_links.post: {id} is the only placeholder allowed",
        id="review-link-other-placeholder",
    ),
    pytest.param(
        '"https://review.example.com/posts/{id}"',
        '"https://review.example.com/posts/{id}|click"',
        "intake.review_links.post: must not contain spaces, |, <, > or quotes",
        id="review-link-breaks-slack-link",
    ),
    pytest.param(
        "languages: [sw, en]",
        "languages: [swa, en]",
        "pods.critical_harms.members[6].languages[0]: not an ISO 639-1 language code: 'swa'",
        id="bad-language-code",
    ),
    pytest.param(
        "    region: global",
        "    region: antarctica",
        "intake.defaults.region: unknown region 'antarctica': add it to intake.regions",
        id="unknown-default-region",
    ),
    pytest.param(
        "  at_risk_fraction: 0.75",
        "  at_risk_fraction: 1.5",
        "sla.at_risk_fraction: must be less than 1 (got 1.5)",
        id="fraction-out-of-range",
    ),
    pytest.param(
        "  strategy: least_loaded",
        "  strategy: fastest",
        "routing.strategy: must be one of 'least_loaded' or 'round_robin' (got 'fastest')",
        id="bad-choice",
    ),
    pytest.param(
        "  sev3:\n",
        "  sev4:\n",
        "severities.sev3: required key is missing",
        id="missing-severity",
    ),
    pytest.param(
        "  - name: weekly",
        "  - name: daily",
        "digests[1].name: duplicate digest name 'daily' (also digests[0])",
        id="duplicate-digest-name",
    ),
    pytest.param(
        "start: 2025-01-06",
        "start: 2025-13-06",
        "pods.critical_harms.rotations.primary.start: must be a valid date",
        id="bad-date",
    ),
    pytest.param(
        "\nsla:\n",
        "\nsla:\n  at_risk_fraction: 0.5\n",
        "sla.at_risk_fraction: duplicate key (first at line",
        id="duplicate-yaml-key",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), BAD)
def test_bad_file_reports_key_path(tmp_path: Path, old: str, new: str, expected: str) -> None:
    err = load_bad(tmp_path, edit(old, new))
    assert any(e.startswith(expected) for e in err.errors), err.errors
    assert str(tmp_path / "app.yaml") in str(err).splitlines()[0]


def test_problem_line_points_at_the_key(tmp_path: Path) -> None:
    text = edit("timezone: Asia/Kolkata", "timezone: Asia/Calcuta")
    err = load_bad(tmp_path, text)
    assert len(err.problems) == 1
    assert err.problems[0].line == line_of(text, "Asia/Calcuta")
    assert f"line {err.problems[0].line}: pods.critical_harms.members[5].timezone" in str(err)


def test_three_problems_all_reported(tmp_path: Path) -> None:
    """A field error, an unknown key and a broken cross-reference, all in one run."""
    text = edit("timezone: Asia/Manila", "timezone: Asia/Manilla")
    text = edit("oncall_rotation: primary", "oncall_rotaton: primary", text)
    text = edit("    policy_area: hateful_activities", "    policy_area: hate_speech", text)
    err = load_bad(tmp_path, text)
    assert err.errors == [
        "pods.critical_harms.members[4].timezone: unknown time zone 'Asia/Manilla'"
        " (did you mean 'Asia/Manila'?)",
        "pods.critical_harms.oncall_rotaton: unknown key (did you mean 'oncall_rotation'?)",
        "intake.defaults.policy_area: unknown policy area 'hate_speech'",
    ]
    lines = str(err).splitlines()
    assert lines[0] == f"invalid configuration in {tmp_path / 'app.yaml'}: 3 problems"
    assert len(lines) == 4
    assert [p.line for p in err.problems] == sorted(p.line for p in err.problems)


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    text = edit("  timezone: Europe/Dublin ", "  timezone: [Europe/Dublin ")
    err = load_bad(tmp_path, text)
    line = line_of(text, "[Europe/Dublin")
    assert len(err.errors) == 1
    assert err.errors[0].startswith(f"YAML syntax error at line {line + 1}, column ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert info.value.errors[0].startswith(f"file not found: {tmp_path / 'nope.yaml'}")
    assert str(tmp_path / "nope.yaml") in str(info.value).splitlines()[0]


def test_unreadable_file(tmp_path: Path) -> None:
    err = load_bad(tmp_path, "")
    assert err.errors[0].startswith("the file is empty")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(tmp_path / "bin.yaml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path)


def test_not_a_mapping(tmp_path: Path) -> None:
    err = load_bad(tmp_path, "- workspace\n- pods\n")
    assert err.errors == [
        "the file must be a mapping of sections (workspace:, pods:, ...), not a list"
    ]


def test_missing_sections(tmp_path: Path) -> None:
    err = load_bad(tmp_path, "workspace:\n  intake_channel: C0123ABCD\n  timezone: UTC\n")
    assert err.errors == [
        "policy_areas: required key is missing",
        "severities: required key is missing",
        "pods: required key is missing",
    ]


def test_model_validate_also_checks_references() -> None:
    """Code building an AppConfig from a dict gets the same checks as the loader."""
    import yaml

    data = yaml.safe_load(edit("skills: [hateful_activities, self_harm]", "skills: [spam]"))
    with pytest.raises(pydantic.ValidationError) as info:
        AppConfig.model_validate(data)
    [error] = info.value.errors()
    assert error["loc"] == ("pods", "critical_harms", "members", 4, "skills", 0)
    assert error["msg"] == "unknown policy area 'spam'"


# -- durations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("45s", timedelta(seconds=45)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
        (" 1h 30m ", timedelta(hours=1, minutes=30)),
        ("90m", timedelta(minutes=90)),
        (timedelta(hours=2), timedelta(hours=2)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("15x", r"invalid duration '15x' \(use e\.g\. 15m, 4h, 2d\)"),
        ("", r"invalid duration ''"),
        ("m", r"invalid duration 'm'"),
        ("15", r"invalid duration '15'"),
        (15, r"invalid duration 15: a number needs a unit"),
        (1.5, r"a number needs a unit"),
        ("1.5h", r"invalid duration '1\.5h'"),
        ("0m", r"must be longer than zero"),
        ("0h0m", r"must be longer than zero"),
        ("-5m", r"invalid duration '-5m': must be positive"),
        ("30m1h", r"largest first"),
        ("1h1h", r"each unit once"),
        ("1H", r"invalid duration '1H'"),
        ("1 hour", r"invalid duration '1 hour'"),
        (None, r"invalid duration None"),
        (True, r"invalid duration True"),
        (timedelta(0), r"must be positive"),
    ],
)
def test_parse_duration_rejects(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(minutes=15), "15m"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(days=2), "2d"),
        (timedelta(days=14), "2w"),
        (timedelta(days=8, hours=1), "8d1h"),
        (timedelta(seconds=59), "59s"),
        (timedelta(0), "0s"),
    ],
)
def test_format_duration(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text
    if delta:
        assert parse_duration(text) == delta

"""The ``qa:`` section of app.yaml: the BPO quality programme's sampling plans and rhythm.

A plan per vendor says how many of the vendor's decisions of a day are drawn
for grading: a share (``rate``) or a number (``daily_count``) per stratum, with
its own figure for sensitive policy areas, for low-confidence decisions and per
policy area. See docs/qa.md for what the figures mean for the scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.config.errors import Loc
from bot.config.fields import Duration, Slug, TimeOfDay, Weekday

Rate = Annotated[float, Field(gt=0, le=1)]
Count = Annotated[int, Field(ge=1, le=10_000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _OneOf(_Model):
    rate: Rate | None = None
    daily_count: Count | None = None

    @model_validator(mode="after")
    def _not_both(self) -> _OneOf:
        if self.rate is not None and self.daily_count is not None:
            raise ValueError("give a rate or a daily_count, not both")
        return self


class QaArea(_OneOf):
    """One policy area's stratum in a vendor's plan: its own rate or daily count."""


class QaPlan(_OneOf):
    """How one vendor's decisions are sampled, per stratum (policy area × confidence band).

    ``rate``: the share of a stratum's decisions of the day; ``daily_count``: that many
    per stratum and day (all of them when fewer). With neither, the rate is 2 %.
    """

    sensitive_rate: Rate | None = None
    low_confidence_below: float = Field(default=0.0, ge=0, le=1)
    low_confidence_rate: Rate | None = None
    areas: dict[Slug, QaArea] = {}


class QaCalibration(_Model):
    """Blind calibration of the pod: ``items`` decisions graded by ``graders`` specialists."""

    weekday: Weekday = "mon"
    items: int = Field(default=5, ge=2, le=20)
    graders: int = Field(default=3, ge=2, le=10)


class Qa(_Model):
    """The programme: plans per vendor, when the sample is drawn, reminders and patterns."""

    seed: str = Field(default="escbot-qa", min_length=1, max_length=200)
    draw_at: TimeOfDay = time(7, 0)
    #: How far back a day missed (escbot down) or a late import is still drawn; older
    #: days are reported in the digest as not sampled.
    catch_up: Duration = timedelta(days=7)
    dm_at: TimeOfDay = time(9, 30)
    plans: dict[Slug, QaPlan] = {}
    calibration: QaCalibration | None = None
    remind_every: Duration = timedelta(days=1)
    pattern_overturns: int = Field(default=3, ge=2, le=100)
    pattern_window: Duration = timedelta(days=7)

    @field_validator("catch_up")
    @classmethod
    def _whole_days(cls, value: timedelta) -> timedelta:
        if value < timedelta(days=1) or value % timedelta(days=1):
            raise ValueError("must be a whole number of days, at least 1d")
        return value

    @property
    def catch_up_days(self) -> int:
        return self.catch_up // timedelta(days=1)

    @model_validator(mode="after")
    def _dm_after_draw(self) -> Qa:
        if self.dm_at < self.draw_at:
            raise ValueError(f"dm_at must not be before draw_at ({self.draw_at:%H:%M})")
        return self


def qa_cross_check(data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    """Plans name configured vendors, and their areas configured policy areas."""
    qa = data.get("qa")
    plans = qa.get("plans") if isinstance(qa, Mapping) else None
    if not isinstance(plans, Mapping):
        return []
    vendors, areas = data.get("vendors"), data.get("policy_areas")
    vendor_names = {str(v) for v in vendors} if isinstance(vendors, Mapping) else set()
    area_names = {str(a) for a in areas} if isinstance(areas, Mapping) else None
    problems: list[tuple[Loc, str]] = []
    for vendor, plan in plans.items():
        if vendor not in vendor_names:
            problems.append((("qa", "plans", vendor), f"unknown vendor {vendor!r}"))
        plan_areas = plan.get("areas") if isinstance(plan, Mapping) else None
        if area_names is None or not isinstance(plan_areas, Mapping):
            continue
        for area in plan_areas:
            if area not in area_names:
                problems.append(
                    (("qa", "plans", vendor, "areas", area), f"unknown policy area {area!r}")
                )
    return problems

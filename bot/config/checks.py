"""Cross-reference checks: names used in one section must exist in another.

They run on the plain data (the parsed YAML, or a validated config dumped to
dicts) and skip whatever has the wrong shape, so they still report their
findings when other parts of the file failed validation: one run of
``check-config`` lists everything to fix.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from bot.config.errors import Loc, format_loc
from bot.config.fields import SEVERITIES, did_you_mean
from bot.config.qa import qa_cross_check


def _map(value: Any) -> Mapping[Any, Any]:
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _names(data: Mapping[str, Any], section: str) -> set[str] | None:
    """Keys of a mapping section, or ``None`` when it is absent or not a mapping (then
    references to it can't be judged, and the section's own error says why)."""
    value = data.get(section)
    return {str(k) for k in value} if isinstance(value, Mapping) and value else None


def _unknown(what: str, name: str, known: set[str]) -> str:
    return f"unknown {what} {name!r}{did_you_mean(name, known)}"


def _members(pods: Mapping[Any, Any]) -> Iterator[tuple[Loc, Mapping[str, Any]]]:
    for pod_name, pod in pods.items():
        for i, member in enumerate(_seq(_map(pod).get("members"))):
            if isinstance(member, Mapping):
                yield ("pods", pod_name, "members", i), member


def cross_check(data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    """Every broken reference in ``data``, as ``(loc, reason)`` pairs."""
    problems: list[tuple[Loc, str]] = []
    areas, pod_names = _names(data, "policy_areas"), _names(data, "pods")
    pods = _map(data.get("pods"))

    for name, area in _map(data.get("policy_areas")).items():
        pod = _map(area).get("pod")
        if pod_names is not None and isinstance(pod, str) and pod not in pod_names:
            problems.append((("policy_areas", name, "pod"), _unknown("pod", pod, pod_names)))

    severities = data.get("severities")
    if isinstance(severities, Mapping):
        for sev in SEVERITIES:
            if sev not in severities:
                problems.append((("severities", sev), "required key is missing"))

    first_seen: dict[str, Loc] = {}
    for loc, member in _members(pods):
        uid = member.get("id")
        if isinstance(uid, str):
            if uid in first_seen:
                also = format_loc(first_seen[uid])
                problems.append(((*loc, "id"), f"duplicate member id {uid!r} (also {also})"))
            else:
                first_seen[uid] = loc
        for j, skill in enumerate(_seq(member.get("skills"))):
            if areas is not None and isinstance(skill, str) and skill not in areas:
                problems.append(((*loc, "skills", j), _unknown("policy area", skill, areas)))

    for pod_name, pod in pods.items():
        pod = _map(pod)
        ids = {m.get("id") for m in _seq(pod.get("members")) if isinstance(m, Mapping)}
        rotations = _map(pod.get("rotations"))
        for rot_name, rotation in rotations.items():
            listed: list[Any] = []
            for k, uid in enumerate(_seq(_map(rotation).get("members"))):
                loc = ("pods", pod_name, "rotations", rot_name, "members", k)
                if isinstance(uid, str) and uid not in ids:
                    problems.append((loc, f"{uid!r} is not a member of pod {pod_name}"))
                elif uid in listed:
                    problems.append((loc, f"{uid!r} is listed twice"))
                listed.append(uid)
        deputy = pod.get("deputy")
        if deputy is not None and deputy == pod.get("lead"):
            problems.append((("pods", pod_name, "deputy"), "is the lead: name someone else"))
        oncall = pod.get("oncall_rotation")
        if isinstance(oncall, str) and oncall not in rotations:
            problems.append(
                (
                    ("pods", pod_name, "oncall_rotation"),
                    _unknown("rotation", oncall, {str(r) for r in rotations}),
                )
            )

    intake = _map(data.get("intake"))
    defaults = _map(intake.get("defaults"))
    area = defaults.get("policy_area")
    if areas is not None and isinstance(area, str) and area and area not in areas:
        problems.append(
            (("intake", "defaults", "policy_area"), _unknown("policy area", area, areas))
        )
    for key, section in (("language", "languages"), ("region", "regions")):
        value, known = defaults.get(key), {str(k) for k in _map(intake.get(section))}
        if isinstance(value, str) and section in intake and value not in known:
            problems.append(
                (
                    ("intake", "defaults", key),
                    f"{_unknown(key, value, known)}: add it to intake.{section}",
                )
            )

    kinds = {str(k) for k in _map(intake.get("content_id_patterns"))}
    for kind in _map(intake.get("review_links")):
        if str(kind) not in kinds:
            problems.append(
                (
                    ("intake", "review_links", kind),
                    f"{_unknown('content id kind', str(kind), kinds)}: "
                    "each needs its pattern in intake.content_id_patterns",
                )
            )

    digest_names: dict[str, int] = {}
    for i, digest in enumerate(_seq(data.get("digests"))):
        name = _map(digest).get("name")
        if isinstance(name, str):
            if name in digest_names:
                problems.append(
                    (
                        ("digests", i, "name"),
                        f"duplicate digest name {name!r} (also digests[{digest_names[name]}])",
                    )
                )
            digest_names.setdefault(name, i)
    problems += qa_cross_check(data)
    return problems

"""Lender overlays: add rules to a built-in profile or tighten its rules, never loosen.

The check is per field: a tightened value must block at least every contact the base
value blocks. Anything else (dropping a rule, raising a limit, shortening quiet hours,
adding an accepted phrase to a *required* list) is refused with the rule id, the field
and the value, because a loosened rule must go through a new built-in profile version,
not a lender's file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from creditdesk.compliance.errors import ProfileError
from creditdesk.compliance.profiles import (
    CapRule,
    Profile,
    QuietHoursRule,
    TemplateForbiddenRule,
    WaitAfterRule,
    profile_from_mapping,
)

__all__ = ["apply_overlay"]

_OVERLAY_KEYS = {"name", "version", "extends", "description", "sources", "rules", "tighten"}


def _covers(outer: list[tuple[int, int]], inner: list[tuple[int, int]]) -> bool:
    """Whether the union of ``outer`` intervals contains every ``inner`` interval."""
    merged: list[list[int]] = []
    for s, e in sorted(outer):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return all(any(ms <= s and e <= me for ms, me in merged) for s, e in inner)


def _tighten(rule: Any, changes: Mapping[str, Any], origin: str) -> dict[str, Any]:
    data = rule.model_dump()
    where = f"tighten.{rule.id}"

    def refuse(key: str, value: object, why: str) -> ProfileError:
        return ProfileError(f"profile {origin}: {where}.{key}: {why} (got {value!r})",
                            field=f"{where}.{key}", value=value)

    for key, value in changes.items():
        if key in ("channels", "parties"):
            if not isinstance(value, list) or not set(data[key]) <= set(value):
                raise refuse(key, value, f"may only add to {data[key]}")
            data[key] = value
        elif key == "limit" and isinstance(rule, CapRule):
            if not isinstance(value, int) or isinstance(value, bool) or value > rule.limit:
                raise refuse(key, value, f"may only be lowered from {rule.limit}")
            data[key] = value
        elif key == "hours" and isinstance(rule, CapRule | WaitAfterRule) and rule.hours:
            if not isinstance(value, int) or isinstance(value, bool) or value < rule.hours:
                raise refuse(key, value, f"may only be raised from {rule.hours}")
            data[key] = value
        elif key in ("start", "end") and isinstance(rule, QuietHoursRule):
            data[key] = value
        elif key == "waived_by_consent" and isinstance(rule, QuietHoursRule):
            if value not in ("", None):
                raise refuse(key, value, "may only be removed (set to \"\")")
            data[key] = None
        elif key == "add_phrases" and isinstance(rule, TemplateForbiddenRule):
            if not isinstance(value, list):
                raise refuse(key, value, "must be a list of phrases")
            data["phrases"] = [*data["phrases"], *value]
        else:
            raise refuse(key, value, f"cannot be tightened on a {data['kind']} rule")
    if isinstance(rule, QuietHoursRule) and ("start" in changes or "end" in changes):
        try:
            new = QuietHoursRule.model_validate(data)
        except Exception as exc:  # reported below with the rule id
            raise refuse("start", changes.get("start", changes.get("end")), str(exc)) from None
        if not _covers(new.quiet_intervals(), rule.quiet_intervals()):
            raise refuse("start", f"{new.start}-{new.end}",
                          f"must cover the base quiet hours {rule.start}-{rule.end}")
    return data


def apply_overlay(base: Profile, data: Mapping[str, Any], origin: str) -> Profile:
    """Merge a lender overlay (already parsed TOML) onto ``base`` and validate the result."""
    unknown = sorted(set(data) - _OVERLAY_KEYS)
    if unknown:
        raise ProfileError.for_field(unknown[0], data[unknown[0]],
                                     f"profile {origin}: unknown overlay key")
    for key in ("name", "version"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ProfileError.for_field(key, data.get(key),
                                         f"profile {origin}: overlay needs a {key}")
    tighten = data.get("tighten", {})
    if not isinstance(tighten, dict):
        raise ProfileError.for_field("tighten", tighten, f"profile {origin}: must be a table")
    by_id = {r.id: r for r in base.rules}
    for rid in tighten:
        if rid not in by_id:
            raise ProfileError.for_field(f"tighten.{rid}", rid,
                                         f"profile {origin}: no such rule in {base.name}")
    rules = [
        _tighten(r, tighten[r.id], origin) if r.id in tighten else r.model_dump()
        for r in base.rules
    ]
    added = data.get("rules", [])
    if not isinstance(added, list):
        raise ProfileError.for_field("rules", added, f"profile {origin}: must be a list")
    merged = {
        "name": data["name"],
        "version": f"{data['version']}+{base.name}.{base.version}",
        "jurisdiction": base.jurisdiction,
        "description": data.get("description", base.description),
        "sources": {**base.sources, **data.get("sources", {})},
        "rules": [*rules, *added],
    }
    return profile_from_mapping(merged, origin)

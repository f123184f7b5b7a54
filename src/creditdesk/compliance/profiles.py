"""Rule profiles: the contact rules of a jurisdiction as versioned, validated data.

A profile is a TOML file (``compliance/profiles/cn.toml``, ``us.toml``): a name, a
version, the sources it cites, and a list of rules. Each rule has an ``id``
(``cn.quiet_hours``), a ``kind`` the checker knows how to evaluate, a ``source``
citation, and the kind's parameters. Changing a limit is an edit to data, reviewed
like code but not written as code.

A lender tightens a built-in profile with an *overlay* file::

    name = "CN-acme"
    version = "3"
    extends = "CN"

    [tighten."cn.connected_calls_per_day"]
    limit = 2

    [[rules]]
    id = "acme.sms_quiet_hours"
    kind = "quiet_hours"
    source = "Acme collections policy 4.2"
    channels = ["sms"]
    start = "21:00"
    end = "09:00"

An overlay may add rules and tighten existing ones, never loosen or drop them: every
``tighten`` entry is checked against the base rule and refused if it would allow a
contact the base profile blocks.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as _PydanticError

from creditdesk.compliance.errors import ProfileError
from creditdesk.compliance.model import CHANNELS, HOLDS, PARTIES

__all__ = [
    "BUILTIN_PROFILES",
    "CapRule",
    "HoldRule",
    "OptOutRule",
    "Profile",
    "QuietHoursRule",
    "RequiresConsentRule",
    "RestrictedMediaRule",
    "Rule",
    "TemplateForbiddenRule",
    "TemplateRequiredRule",
    "ThirdPartyObjectionRule",
    "ThirdPartyUnreachableRule",
    "WaitAfterRule",
    "load_profile",
    "parse_wall",
]

BUILTIN_PROFILES: tuple[str, ...] = ("CN", "US")

Channel = Literal["voice", "sms", "push", "email", "letter", "visit"]
Party = Literal["debtor", "third_party"]
HoldKind = Literal["dispute", "hardship_review", "cease_communication", "complaint_review",
                   "deceased", "bankruptcy"]
RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Phrases = Annotated[tuple[Text, ...], Field(min_length=1)]

# The Literal types above must list exactly the model's names (checked at import).
assert set(get_args(Channel)) == set(CHANNELS) and set(get_args(HoldKind)) == set(HOLDS)
assert set(get_args(Party)) == set(PARTIES)


def parse_wall(text: str) -> int:
    """Seconds after local midnight of ``HH:MM`` or ``HH:MM:SS`` (``24:00`` is the day's end).

    >>> parse_wall("22:00"), parse_wall("08:00:30"), parse_wall("24:00")
    (79200, 28830, 86400)
    """
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise ValueError(f"time must be HH:MM or HH:MM:SS, got {text!r}")
    h, m, s = (int(p) for p in (*parts, "00")[:3])
    if m > 59 or s > 59 or h > 24 or (h == 24 and (m or s)):
        raise ValueError(f"not a time of day: {text!r}")
    return h * 3600 + m * 60 + s


class _Rule(BaseModel):
    """Fields every rule has. ``channels``/``parties`` say which contacts it governs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: RuleId
    source: Text
    description: str = ""
    channels: tuple[Channel, ...] = ("voice", "sms", "push", "email", "letter", "visit")
    parties: tuple[Party, ...] = ("debtor", "third_party")

    @field_validator("channels", "parties")
    @classmethod
    def _non_empty_unique(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v or len(set(v)) != len(v):
            raise ValueError("must be a non-empty list without repeats")
        return v

    def applies(self, channel: str, party: str) -> bool:
        """Whether this rule governs a contact on ``channel`` to ``party``."""
        return channel in self.channels and party in self.parties


class HoldRule(_Rule):
    """While the customer carries ``hold``, no contact at all."""

    kind: Literal["hold"]
    hold: HoldKind


class RestrictedMediaRule(_Rule):
    """A channel the customer asked us not to use is not used."""

    kind: Literal["restricted_media"]


class RequiresConsentRule(_Rule):
    """The contact needs the customer's recorded consent ``consent`` (e.g. robot calls)."""

    kind: Literal["requires_consent"]
    consent: Text
    robot_only: bool = False


class ThirdPartyUnreachableRule(_Rule):
    """Third parties may be contacted only while the debtor cannot be reached."""

    kind: Literal["third_party_unreachable_only"]
    parties: tuple[Party, ...] = ("third_party",)


class ThirdPartyObjectionRule(_Rule):
    """A third party who objected is never contacted again."""

    kind: Literal["third_party_objection"]
    parties: tuple[Party, ...] = ("third_party",)


class TemplateForbiddenRule(_Rule):
    """The message or script must contain none of ``phrases`` (threats, insults, disclosure)."""

    kind: Literal["template_forbidden"]
    phrases: Phrases


class TemplateRequiredRule(_Rule):
    """The message or script must contain at least one of ``phrases`` (identity, notice)."""

    kind: Literal["template_required"]
    phrases: Phrases


class OptOutRule(_Rule):
    """An electronic message must tell the reader how to opt out."""

    kind: Literal["opt_out_required"]
    channels: tuple[Channel, ...] = ("sms", "push", "email")
    phrases: Phrases


class QuietHoursRule(_Rule):
    """No contact while the local wall clock is in ``[start, end)`` (may wrap midnight)."""

    kind: Literal["quiet_hours"]
    start: Text
    end: Text
    waived_by_consent: str | None = None

    @field_validator("start", "end")
    @classmethod
    def _wall(cls, v: str) -> str:
        parse_wall(v)
        return v

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHoursRule:
        if parse_wall(self.start) % 86400 == parse_wall(self.end) % 86400:
            raise ValueError("start and end must differ (a window of zero or 24 hours)")
        return self

    def quiet_intervals(self) -> list[tuple[int, int]]:
        """The quiet window as half-open second-of-day intervals, split at midnight."""
        s, e = parse_wall(self.start) % 86400, parse_wall(self.end) or 86400
        return [(s, e)] if s < e else [(s, 86400), (0, e)]


class CapRule(_Rule):
    """At most ``limit`` counted events in the window; the next one is blocked.

    ``count``: ``attempts`` (every contact), ``connected`` (answered by a person),
    ``unanswered`` (not answered), ``conversations``. ``per``: the whole debtor
    history or only events to the proposed contact's number. ``window``: the
    customer's local calendar day, or the ``hours`` before the proposed contact.
    """

    kind: Literal["cap"]
    count: Literal["attempts", "connected", "unanswered", "conversations"]
    per: Literal["debtor", "number"] = "debtor"
    window: Literal["local_day", "rolling"]
    hours: Annotated[int, Field(gt=0, le=24 * 366)] | None = None
    limit: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _hours_iff_rolling(self) -> CapRule:
        if (self.window == "rolling") != (self.hours is not None):
            raise ValueError("hours is required for a rolling window and only for one")
        return self


class WaitAfterRule(_Rule):
    """No contact within ``hours`` after an event of kind ``after`` (e.g. a conversation)."""

    kind: Literal["wait_after"]
    after: Literal["conversation", "connected"]
    hours: Annotated[int, Field(gt=0, le=24 * 366)]


Rule = Annotated[
    HoldRule | RestrictedMediaRule | RequiresConsentRule | ThirdPartyUnreachableRule
    | ThirdPartyObjectionRule | TemplateForbiddenRule | TemplateRequiredRule | OptOutRule
    | QuietHoursRule | CapRule | WaitAfterRule,
    Field(discriminator="kind"),
]


class Profile(BaseModel):
    """A validated rule profile. Build it with :func:`load_profile`.

    >>> p = load_profile("CN")
    >>> p.name, p.jurisdiction, p.rule("cn.connected_calls_per_day").limit
    ('CN', 'CN', 3)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Text
    version: Text
    jurisdiction: Text
    description: str = ""
    sources: dict[str, Text] = Field(min_length=1)
    rules: tuple[Rule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> Profile:
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"rule ids must be unique, repeated: {', '.join(dupes)}")
        held = {r.hold for r in self.rules if isinstance(r, HoldRule)}
        missing = [h for h in HOLDS if h not in held]
        if missing:
            raise ValueError(f"every hold needs a rule; missing: {', '.join(missing)}")
        return self

    def rule(self, rule_id: str) -> Any:
        """The rule with this id (``KeyError`` if there is none)."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


def _pydantic_to_profile_error(exc: _PydanticError, origin: str, data: Mapping[str, Any]
                               ) -> ProfileError:
    err = exc.errors()[0]
    loc = list(err["loc"])
    # Name rules by their id rather than their list index: "rules[cn.quiet_hours].end".
    parts: list[str] = []
    i = 0
    while i < len(loc):
        key = loc[i]
        if key == "rules" and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            idx = int(loc[i + 1])
            rules = data.get("rules") or []
            rid = rules[idx].get("id") if idx < len(rules) and isinstance(rules[idx], dict) else idx
            parts.append(f"rules[{rid}]")
            i += 2
            # skip the discriminator tag pydantic inserts ("quiet_hours")
            if i < len(loc) and isinstance(loc[i], str) and loc[i] in _KINDS:
                i += 1
            continue
        parts.append(str(key))
        i += 1
    field = ".".join(parts) or "profile"
    value = err.get("input")
    if isinstance(value, dict):
        value = "{...}"
    message = f"profile {origin}: {field}: {err['msg']} (got {value!r})"
    return ProfileError(message, field=field, value=value)


_KINDS = {"hold", "restricted_media", "requires_consent", "third_party_unreachable_only",
          "third_party_objection", "template_forbidden", "template_required",
          "opt_out_required", "quiet_hours", "cap", "wait_after"}


def profile_from_mapping(data: Mapping[str, Any], origin: str = "<data>") -> Profile:
    """Validate a parsed profile (no ``extends``) and return it, or raise :class:`ProfileError`."""
    try:
        return Profile.model_validate(dict(data))
    except _PydanticError as exc:
        raise _pydantic_to_profile_error(exc, origin, data) from None


def _read_toml(path: Path | Any, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile {origin}: not valid TOML: {exc}", field="profile",
                           value=origin) from None
    except OSError as exc:
        raise ProfileError(f"profile {origin}: cannot read ({exc.strerror})", field="profile",
                           value=origin) from None


@lru_cache(maxsize=8)
def _builtin(name: str) -> Profile:
    res = resources.files("creditdesk.compliance").joinpath("profiles", f"{name.lower()}.toml")
    return profile_from_mapping(_read_toml(res, name), name)


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False for a name the system cannot even look up (too long, a NUL)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def load_profile(name_or_path: str | Path) -> Profile:
    """A built-in profile by name (``"CN"``, ``"US"``, any case) or a profile file by path.

    A file with ``extends = "CN"`` is an overlay on the built-in profile (see the module
    docstring); its version becomes ``"<own version>+<base name>.<base version>"`` so
    the audit trail pins both.

    >>> load_profile("us").name
    'US'
    >>> try:
    ...     load_profile("FR")
    ... except ProfileError as exc:
    ...     print(exc)
    profile: not a built-in profile (CN, US) or a file (got 'FR')
    >>> try:
    ...     load_profile("x" * 5000)
    ... except ProfileError as exc:
    ...     print(exc.field)
    profile
    """
    text = str(name_or_path)
    if text.upper() in BUILTIN_PROFILES and not _is_file(Path(text)):
        return _builtin(text.upper())
    path = Path(text)
    if not _is_file(path):
        raise ProfileError.for_field(
            "profile", text, f"not a built-in profile ({', '.join(BUILTIN_PROFILES)}) or a file")
    data = _read_toml(path, text)
    if "extends" not in data:
        return profile_from_mapping(data, text)
    from creditdesk.compliance.overlay import apply_overlay

    base_name = data.get("extends")
    if not isinstance(base_name, str) or base_name.upper() not in BUILTIN_PROFILES:
        known = ", ".join(BUILTIN_PROFILES)
        raise ProfileError.for_field("extends", base_name,
                                     f"must name a built-in profile ({known})")
    return apply_overlay(_builtin(base_name.upper()), data, text)

"""The values the checker reads and returns: contacts, customer state, decisions.

Every derived quantity the checker needs per history event (its instant as integer
microseconds since the epoch and a small bit-set of channel, party and outcome) is
computed once, when the event is built, so that a check scans a history without
allocating anything. Validation happens here too: a malformed event is refused when
it is made, with the field and value named, never silently counted wrong.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import FrozenInstanceError, dataclass, field
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from creditdesk.compliance.errors import ComplianceInputError

__all__ = [
    "CHANNELS",
    "ELECTRONIC",
    "HOLDS",
    "PARTIES",
    "Allowed",
    "Blocked",
    "ContactEvent",
    "CustomerState",
    "Decision",
    "ProposedContact",
]

CHANNELS: tuple[str, ...] = ("voice", "sms", "push", "email", "letter", "visit")
"""Every contact channel. An AI voice robot's call is a ``voice`` contact."""
ELECTRONIC: tuple[str, ...] = ("sms", "push", "email")
"""Channels that carry an electronic message (Regulation F's opt-out applies)."""
PARTIES: tuple[str, ...] = ("debtor", "third_party")
HOLDS: tuple[str, ...] = ("dispute", "hardship_review", "cease_communication",
                          "complaint_review", "deceased", "bankruptcy")
"""Account holds; each one stops every contact while it is set."""

# Bit-set of an event: one bit per channel, per party, and per outcome. A rule that
# counts events precomputes the set of flag values it accepts, so matching an event
# costs one integer set lookup.
CHANNEL_BIT = {ch: 1 << i for i, ch in enumerate(CHANNELS)}
PARTY_BIT = {"debtor": 1 << 6, "third_party": 1 << 7}
ATTEMPT = 1 << 8
CONNECTED = 1 << 9
UNANSWERED = 1 << 10
CONVERSATION = 1 << 11
ROBOT = 1 << 12
FLAG_SPACE = 1 << 13

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOT_DIGIT = re.compile(r"[^0-9]")
_SPACES = re.compile(r"\s+")


def to_us(ts: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime (exact integer arithmetic)."""
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def normalize_address(channel: str, address: str) -> str:
    """Canonical form of a phone number (``+`` and digits) or other address (case-folded).

    Two spellings of one number must count as one number for the per-number caps.

    >>> normalize_address("voice", "+86 138-0013-8000")
    '+8613800138000'
    >>> normalize_address("email", " Li.Wei@Example.com ")
    'li.wei@example.com'
    """
    address = address.strip()
    if channel in ("voice", "sms"):
        digits = _NOT_DIGIT.sub("", address)
        return ("+" + digits) if address.startswith("+") else digits
    return address.casefold()


def normalize_text(text: str) -> str:
    """Template text as the phrase rules see it: NFKC, case-folded, single spaces.

    NFKC folds full-width letters and digits, so ``ＪＡＩＬ`` cannot slip past a list
    that says ``jail``.

    >>> normalize_text("You  will go to ＪＡＩＬ")
    'you will go to jail'
    """
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _aware(value: object, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise ComplianceInputError.for_field(name, value, "must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ComplianceInputError.for_field(name, value.isoformat(),
                                             "timestamp needs a UTC offset")
    return value


def _choice(value: object, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ComplianceInputError.for_field(name, value, f"must be one of {', '.join(allowed)}")
    return str(value)


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ComplianceInputError.for_field(name, value, "must be true or false")
    return value


def _address(channel: str, number: object, name: str) -> str | None:
    if number is None:
        if channel == "voice":
            raise ComplianceInputError.for_field(name, number, "a call needs the number dialled")
        return None
    if not isinstance(number, str) or not number.strip():
        raise ComplianceInputError.for_field(name, number, "must be a non-empty string")
    norm = normalize_address(channel, number)
    if channel in ("voice", "sms") and len(norm.lstrip("+")) < 3:
        raise ComplianceInputError.for_field(name, number, "is not a phone number")
    return norm


@dataclass(frozen=True, slots=True)
class ContactEvent:
    """A contact that already happened: the history the frequency rules count.

    ``connected`` means a person answered; ``conversation`` means the debtor (or the
    third party) actually spoke with the collector, so it implies ``connected``.
    ``robot`` marks an AI voice robot's call, which counts as a call like any other.

    >>> from datetime import datetime
    >>> ev = ContactEvent(datetime.fromisoformat("2026-03-02T09:15:00+08:00"), "voice",
    ...                   number="+86 138 0013 8000", connected=True, conversation=True)
    >>> ev.number, ev.us
    ('+8613800138000', 1772414100000000)
    """

    ts: datetime
    channel: str
    party: str = "debtor"
    number: str | None = None
    connected: bool = False
    conversation: bool = False
    robot: bool = False
    us: int = field(init=False, repr=False, compare=False)
    flags: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ts = _aware(self.ts, "ts")
        channel = _choice(self.channel, "channel", CHANNELS)
        party = _choice(self.party, "party", PARTIES)
        connected = _flag(self.connected, "connected")
        conversation = _flag(self.conversation, "conversation")
        robot = _flag(self.robot, "robot")
        if conversation and not connected:
            raise ComplianceInputError.for_field(
                "conversation", conversation, "a conversation needs a connected contact")
        object.__setattr__(self, "number", _address(channel, self.number, "number"))
        flags = CHANNEL_BIT[channel] | PARTY_BIT[party] | ATTEMPT
        flags |= CONNECTED if connected else UNANSWERED
        if conversation:
            flags |= CONVERSATION
        if robot:
            flags |= ROBOT
        object.__setattr__(self, "us", to_us(ts))
        object.__setattr__(self, "flags", flags)


@dataclass(frozen=True, slots=True)
class ProposedContact:
    """The contact a caller wants to make; the checker allows or blocks exactly this.

    ``template`` is the message or call script when there is one; the template rules
    only run on text they are given. ``opt_out`` says the sending channel appends its
    own opt-out notice to the message (otherwise the template must contain one).

    >>> from datetime import datetime
    >>> p = ProposedContact(datetime.fromisoformat("2026-03-02T21:59:59+08:00"), "sms",
    ...                     number="13800138000", template="Hello   WORLD")
    >>> p.template_norm
    'hello world'
    """

    ts: datetime
    channel: str
    party: str = "debtor"
    number: str | None = None
    template: str | None = None
    robot: bool = False
    opt_out: bool = False
    us: int = field(init=False, repr=False, compare=False)
    template_norm: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ts = _aware(self.ts, "ts")
        channel = _choice(self.channel, "channel", CHANNELS)
        _choice(self.party, "party", PARTIES)
        _flag(self.robot, "robot")
        _flag(self.opt_out, "opt_out")
        if self.robot and channel != "voice":
            raise ComplianceInputError.for_field("robot", self.robot,
                                                 "only a voice contact can be a robot call")
        object.__setattr__(self, "number", _address(channel, self.number, "number"))
        if self.template is not None and not isinstance(self.template, str):
            raise ComplianceInputError.for_field("template", self.template, "must be text")
        norm = normalize_text(self.template) if self.template is not None else None
        object.__setattr__(self, "template_norm", norm)
        object.__setattr__(self, "us", to_us(ts))


def _name_set(values: Iterable[object], name: str, allowed: tuple[str, ...] | None,
              normalise: bool = False) -> frozenset[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ComplianceInputError.for_field(name, values, "must be a list")
    out = []
    for i, v in enumerate(values):
        if not isinstance(v, str) or not v.strip():
            raise ComplianceInputError.for_field(f"{name}[{i}]", v, "must be a non-empty string")
        key = v.strip().lower().replace("-", "_").replace(" ", "_") if normalise else v.strip()
        if allowed is not None and key not in allowed:
            raise ComplianceInputError.for_field(f"{name}[{i}]", v,
                                                 f"must be one of {', '.join(allowed)}")
        out.append(key)
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class CustomerState:
    """What the checker must know about the debtor right now.

    Unknown holds or media are refused rather than ignored: a misspelt ``"dispte"``
    that silently let contact through would be the worst possible failure.

    >>> CustomerState("Asia/Shanghai", holds=["Cease-Communication"]).holds
    frozenset({'cease_communication'})
    >>> try:
    ...     CustomerState("Mars/Olympus")
    ... except ComplianceInputError as exc:
    ...     print(exc)
    timezone: unknown IANA time zone (got 'Mars/Olympus')
    """

    timezone: str
    holds: frozenset[str] = frozenset()
    restricted_media: frozenset[str] = frozenset()
    debtor_reachable: bool = True
    third_party_objected: bool = False
    objected_numbers: frozenset[str] = frozenset()
    consents: frozenset[str] = frozenset()
    tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tz_name = self.timezone
        if not isinstance(tz_name, str) or not tz_name:
            raise ComplianceInputError.for_field("timezone", tz_name, "must be an IANA time zone")
        try:
            tz = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ComplianceInputError.for_field("timezone", tz_name,
                                                 "unknown IANA time zone") from exc
        object.__setattr__(self, "tz", tz)
        object.__setattr__(self, "holds", _name_set(self.holds, "holds", HOLDS, True))
        object.__setattr__(self, "restricted_media",
                           _name_set(self.restricted_media, "restricted_media", CHANNELS, True))
        object.__setattr__(self, "consents", _name_set(self.consents, "consents", None, True))
        numbers = _name_set(self.objected_numbers, "objected_numbers", None)
        object.__setattr__(self, "objected_numbers",
                           frozenset(normalize_address("voice", n) for n in numbers))
        _flag(self.debtor_reachable, "debtor_reachable")
        _flag(self.third_party_objected, "third_party_objected")


@dataclass(frozen=True, slots=True)
class Allowed:
    """The contact may be made now."""

    @property
    def allowed(self) -> Literal[True]:
        """Always true; lets callers test ``decision.allowed`` on either outcome."""
        return True


class Blocked:
    """The contact may not be made now; ``rule_id`` names the first rule that blocks it.

    ``next_allowed_at`` is the earliest instant (in the customer's time zone) at which
    the same contact would pass every rule, or ``None`` when no passage of time alone
    will allow it (a hold, an objection, a forbidden phrase).

    ``reason`` may be given as text or as a function that writes it: a planner that
    blocks thousands of candidate contacts reads few of the reasons, and writing one
    (formatting times, counting the window again) costs about as much as the check.
    The function is called once, when ``reason`` is first read; equality, hashing and
    ``repr`` read it too, so a lazy and an eager decision with the same text are equal.
    Immutable, like the dataclass it replaces.

    >>> b = Blocked("r.x", lambda: "because", None)
    >>> b.reason, b == Blocked("r.x", "because", None), b.allowed
    ('because', True, False)
    """

    __slots__ = ("_reason", "next_allowed_at", "rule_id")
    __match_args__ = ("rule_id", "reason", "next_allowed_at")

    rule_id: str
    next_allowed_at: datetime | None
    _reason: str | Callable[[], str]  # the text, or the function that writes it

    def __init__(self, rule_id: str, reason: str | Callable[[], str],
                 next_allowed_at: datetime | None) -> None:
        put = object.__setattr__
        put(self, "rule_id", rule_id)
        put(self, "next_allowed_at", next_allowed_at)
        put(self, "_reason", reason)

    @property
    def reason(self) -> str:
        """Why the contact is blocked, naming the facts (written on first read)."""
        text = self._reason
        if isinstance(text, str):
            return text
        text = text()
        object.__setattr__(self, "_reason", text)  # also drops the history it held
        return text

    @property
    def allowed(self) -> Literal[False]:
        """Always false."""
        return False

    def _key(self) -> tuple[str, str, datetime | None]:
        return (self.rule_id, self.reason, self.next_allowed_at)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Blocked:
            return NotImplemented
        assert isinstance(other, Blocked)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"Blocked(rule_id={self.rule_id!r}, reason={self.reason!r}, "
                f"next_allowed_at={self.next_allowed_at!r})")

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[type[Blocked], tuple[str, str, datetime | None]]:
        return (Blocked, self._key())  # pickles the text, never the function


Decision = Allowed | Blocked

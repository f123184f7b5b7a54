"""Compiled rules: each profile rule turned into a small object the checker calls.

Two families:

* *standing* rules (holds, restricted media, consent, third-party, template rules)
  depend only on the customer's state and the contact itself. When one blocks, no
  passage of time helps, so the next allowed time is ``None``.
* *timed* rules (quiet hours, caps, waits) depend on when the contact happens. Each
  one answers ``release(c)``: ``None`` if it does not block a contact at instant
  ``c``, otherwise the earliest instant ``r > c`` at which it stops blocking, with
  the guarantee that it blocks throughout ``[c, r)``. That guarantee is what makes
  the checker's search for the next allowed time exact: jumping to ``r`` never
  skips an allowed instant.

  A timed rule is *monotone* when, once it stops blocking at or after the proposed
  instant, it never blocks again. Every rule that only counts history is: the
  history holds no event after the proposed contact, so a rolling window only loses
  events as it moves forward, a later local day holds none, and the latest
  conversation only grows older. The checker's search evaluates a monotone rule once,
  at the proposed instant, and after that re-checks only the rules that are not
  (quiet hours, which come back every night).

Everything a rule can precompute is precomputed here, once per profile.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Protocol

from creditdesk.compliance.history import History
from creditdesk.compliance.localtime import day_bounds, first_at_wall, from_us
from creditdesk.compliance.model import (
    ATTEMPT,
    CHANNEL_BIT,
    CONNECTED,
    CONVERSATION,
    FLAG_SPACE,
    PARTY_BIT,
    UNANSWERED,
    CustomerState,
    ProposedContact,
    normalize_text,
)
from creditdesk.compliance.profiles import (
    CapRule,
    HoldRule,
    OptOutRule,
    QuietHoursRule,
    RequiresConsentRule,
    RestrictedMediaRule,
    TemplateForbiddenRule,
    TemplateRequiredRule,
    ThirdPartyObjectionRule,
    ThirdPartyUnreachableRule,
    WaitAfterRule,
    parse_wall,
)

__all__ = ["StandingRule", "TimedRule", "compile_rule", "phrase_pattern"]

_HOUR_US = 3_600_000_000
_ONE_DAY = timedelta(days=1)


def phrase_pattern(phrases: Sequence[str]) -> re.Pattern[str]:
    """One regex matching any phrase in normalised text.

    A phrase that starts with a Latin letter or digit must start a word (so ``kill``
    does not fire inside ``skill``) but may end inside one (``debt`` catches
    ``debts``); CJK phrases match anywhere, as Chinese has no spaces between words.

    >>> p = phrase_pattern(["kill", "坐牢"])
    >>> bool(p.search("good skills")), bool(p.search("killed")), bool(p.search("你要坐牢"))
    (False, True, True)
    """
    parts = []
    for phrase in sorted({normalize_text(p) for p in phrases}, key=len, reverse=True):
        esc = re.escape(phrase)
        parts.append(f"(?<![0-9a-z]){esc}" if phrase[:1].isascii() and phrase[:1].isalnum()
                     else esc)
    return re.compile("|".join(parts))


class StandingRule(Protocol):
    """A rule that blocks regardless of time: returns the reason, or ``None``."""

    id: str

    def check(self, p: ProposedContact, s: CustomerState) -> str | None: ...


class TimedRule(Protocol):
    """A rule that blocks at some instants: see the module docstring for ``release``."""

    id: str
    uses_history: bool
    monotone: bool

    def release(self, c: int, local: datetime, p: ProposedContact, s: CustomerState,
                h: History) -> int | None: ...

    def reason(self, c: int, local: datetime, p: ProposedContact, s: CustomerState,
               h: History) -> str: ...


class _Hold:
    __slots__ = ("hold", "id")

    def __init__(self, r: HoldRule) -> None:
        self.id, self.hold = r.id, r.hold

    def check(self, p: ProposedContact, s: CustomerState) -> str | None:
        if self.hold in s.holds:
            return f"the account is on hold ({self.hold.replace('_', ' ')}): no contact"
        return None


class _Restricted:
    __slots__ = ("id",)

    def __init__(self, r: RestrictedMediaRule) -> None:
        self.id = r.id

    def check(self, p: ProposedContact, s: CustomerState) -> str | None:
        if p.channel in s.restricted_media:
            return f"the customer restricted the {p.channel} channel"
        return None


class _Consent:
    __slots__ = ("consent", "id", "robot_only")

    def __init__(self, r: RequiresConsentRule) -> None:
        self.id, self.consent, self.robot_only = r.id, r.consent, r.robot_only

    def check(self, p: ProposedContact, s: CustomerState) -> str | None:
        if (p.robot or not self.robot_only) and self.consent not in s.consents:
            return f"{p.channel} contact needs the customer's consent {self.consent!r}"
        return None


class _ThirdPartyReachable:
    __slots__ = ("id",)

    def __init__(self, r: ThirdPartyUnreachableRule) -> None:
        self.id = r.id

    def check(self, p: ProposedContact, s: CustomerState) -> str | None:
        if s.debtor_reachable:
            return "third parties may be contacted only while the debtor is unreachable"
        return None


class _ThirdPartyObjection:
    __slots__ = ("id",)

    def __init__(self, r: ThirdPartyObjectionRule) -> None:
        self.id = r.id

    def check(self, p: ProposedContact, s: CustomerState) -> str | None:
        if s.third_party_objected or (p.number is not None and p.number in s.objected_numbers):
            return "the third party objected to being contacted"
        return None


class _Forbidden:
    __slots__ = ("id", "pattern")

    def __init__(self, r: TemplateForbiddenRule) -> None:
        self.id, self.pattern = r.id, phrase_pattern(r.phrases)

    def check(self, p: ProposedContact, s: CustomerState) -> str | None:
        if p.template_norm is not None:
            m = self.pattern.search(p.template_norm)
            if m is not None:
                return f"the template contains the forbidden phrase {m.group(0)!r}"
        return None


class _Required:
    __slots__ = ("id", "pattern", "phrases")

    def __init__(self, r: TemplateRequiredRule) -> None:
        self.id, self.pattern, self.phrases = r.id, phrase_pattern(r.phrases), r.phrases

    def check(self, p: ProposedContact, s: CustomerState) -> str | None:
        if p.template_norm is not None and self.pattern.search(p.template_norm) is None:
            shown = ", ".join(repr(x) for x in self.phrases[:4])
            return f"the template lacks a required phrase (one of {shown}, ...)"
        return None


class _OptOut:
    __slots__ = ("id", "pattern")

    def __init__(self, r: OptOutRule) -> None:
        self.id, self.pattern = r.id, phrase_pattern(r.phrases)

    def check(self, p: ProposedContact, s: CustomerState) -> str | None:
        if p.opt_out or (p.template_norm is not None and self.pattern.search(p.template_norm)):
            return None
        return f"an electronic message ({p.channel}) must carry an opt-out notice"


class _Quiet:
    __slots__ = ("end", "end_time", "id", "label", "monotone", "start", "uses_history",
                 "waiver", "wrap")

    def __init__(self, r: QuietHoursRule) -> None:
        self.id, self.uses_history, self.monotone = r.id, False, False
        self.start = parse_wall(r.start) % 86400
        self.end = parse_wall(r.end) or 86400
        self.wrap = self.start > self.end
        self.end_time = time(0) if self.end == 86400 else time(
            self.end // 3600, self.end // 60 % 60, self.end % 60)
        self.waiver = r.waived_by_consent or None
        self.label = f"{r.start}-{r.end}"

    def release(self, c: int, local: datetime, p: ProposedContact, s: CustomerState,
                h: History) -> int | None:
        w = local.hour * 3600 + local.minute * 60 + local.second
        if self.wrap:
            if self.end <= w < self.start:
                return None
        elif not self.start <= w < self.end:
            return None
        if self.waiver is not None and self.waiver in s.consents:
            return None
        day: date = local.date()
        if (self.wrap and w >= self.start) or self.end == 86400:
            day += _ONE_DAY
        return first_at_wall(s.tz, day, self.end_time, not_before=c)

    def reason(self, c: int, local: datetime, p: ProposedContact, s: CustomerState,
               h: History) -> str:
        return (f"{p.channel} contact at {local:%H:%M:%S} local time ({s.tz.key}) "
                f"falls in the quiet hours {self.label}")


def _accepted(channels: Sequence[str], parties: Sequence[str], need: int) -> frozenset[int]:
    """Every event flag value with one of ``channels``, one of ``parties`` and bit ``need``."""
    ch = 0
    for c in channels:
        ch |= CHANNEL_BIT[c]
    pa = 0
    for q in parties:
        pa |= PARTY_BIT[q]
    return frozenset(f for f in range(FLAG_SPACE) if f & ch and f & pa and f & need)


_COUNT_BIT = {"attempts": ATTEMPT, "connected": CONNECTED, "unanswered": UNANSWERED,
              "conversations": CONVERSATION}


class _Cap:
    __slots__ = ("accepted", "count", "hours", "id", "limit", "local_day", "monotone",
                 "per_number", "span", "uses_history")

    def __init__(self, r: CapRule) -> None:
        self.id, self.uses_history, self.limit, self.count = r.id, True, r.limit, r.count
        self.monotone = True
        self.accepted = _accepted(r.channels, r.parties, _COUNT_BIT[r.count])
        self.local_day = r.window == "local_day"
        self.hours = r.hours or 0
        self.span = self.hours * _HOUR_US
        self.per_number = r.per == "number"

    def _bounds(self, c: int, local: datetime, s: CustomerState) -> tuple[int, int]:
        """Events with ``us > lower`` are in the window (``lower``, and the day's end).

        History never holds events after the proposed contact, so the window's upper
        end (``c``, or the local day's end) needs no test.
        """
        if self.local_day:
            lower, day_end = day_bounds(s.tz, local.date())
            return lower - 1, day_end
        return c - self.span, 0

    def _counted(self, p: ProposedContact, h: History) -> list[int]:
        """Instants, oldest first, of every counted event in the history (memoised by it)."""
        if self.per_number:
            return h.matching_number(self.accepted, p.number)
        return h.matching(self.accepted)

    def release(self, c: int, local: datetime, p: ProposedContact, s: CustomerState,
                h: History) -> int | None:
        if len(h.us) < self.limit:  # too few events in all to reach the cap
            return None
        counted = self._counted(p, h)
        total = len(counted)
        if total < self.limit:
            return None
        lower, day_end = self._bounds(c, local, s)
        if total - bisect_right(counted, lower) < self.limit:  # events inside the window
            return None
        if self.local_day:
            return day_end
        # the window must lose n - limit + 1 events; the last of them leaves at this
        # instant: it is the limit-th newest counted event (nothing is newer than c)
        return counted[total - self.limit] + self.span

    def reason(self, c: int, local: datetime, p: ProposedContact, s: CustomerState,
               h: History) -> str:
        counted = self._counted(p, h)
        n = len(counted) - bisect_right(counted, self._bounds(c, local, s)[0])
        whom = f"number {p.number}" if self.per_number else "the debtor"
        what = {"attempts": "call attempts", "connected": "connected calls",
                "unanswered": "unanswered attempts", "conversations": "conversations"}[self.count]
        when = (f"on {local:%Y-%m-%d} (local day, {s.tz.key})" if self.local_day
                else f"in the {self.hours} hours before {local.isoformat()}")
        return f"{n} {what} to {whom} {when}; the limit is {self.limit}"


class _Wait:
    __slots__ = ("accepted", "after", "hours", "id", "monotone", "span", "uses_history")

    def __init__(self, r: WaitAfterRule) -> None:
        self.id, self.uses_history, self.after, self.hours = r.id, True, r.after, r.hours
        self.monotone = True
        need = CONVERSATION if r.after == "conversation" else CONNECTED
        self.accepted = _accepted(r.channels, r.parties, need)
        self.span = r.hours * _HOUR_US

    def _latest(self, c: int, h: History) -> int | None:
        """The newest event that starts a wait, if it is inside ``(c - span, c]``.

        The history holds nothing after the proposed contact (and ``c`` is never
        before it), so the newest such event overall is the only candidate.
        """
        found = h.matching(self.accepted)
        if found and found[-1] > c - self.span:
            return found[-1]
        return None

    def release(self, c: int, local: datetime, p: ProposedContact, s: CustomerState,
                h: History) -> int | None:
        latest = self._latest(c, h)
        return None if latest is None else latest + self.span

    def reason(self, c: int, local: datetime, p: ProposedContact, s: CustomerState,
               h: History) -> str:
        latest = self._latest(c, h)
        when = from_us(latest or 0, s.tz).isoformat()
        return f"a {self.after} with the debtor at {when} was less than {self.hours} hours ago"


def compile_rule(rule: object) -> StandingRule | TimedRule:
    """The evaluator for one validated profile rule."""
    table: list[tuple[type, type]] = [
        (HoldRule, _Hold), (RestrictedMediaRule, _Restricted), (RequiresConsentRule, _Consent),
        (ThirdPartyUnreachableRule, _ThirdPartyReachable),
        (ThirdPartyObjectionRule, _ThirdPartyObjection), (TemplateForbiddenRule, _Forbidden),
        (TemplateRequiredRule, _Required), (OptOutRule, _OptOut), (QuietHoursRule, _Quiet),
        (CapRule, _Cap), (WaitAfterRule, _Wait),
    ]
    for model, impl in table:
        if isinstance(rule, model):
            compiled: StandingRule | TimedRule = impl(rule)
            return compiled
    raise TypeError(f"no evaluator for {type(rule).__name__}")

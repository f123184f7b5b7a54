"""The one contact checker: ``check(proposed, customer, history, profile) -> Decision``.

Pure: no I/O, no clock, no randomness. Every contact creditdesk makes, by any
channel, by an agent or a robot, planned or ad hoc, is allowed by this function
first; the caller logs both answers (:mod:`creditdesk.compliance.audit`).

Order of evaluation, which is also the order in which a blocking rule is reported:

1. holds, 2. restricted media and consent, 3. third-party rules, 4. template rules
(forbidden phrases, required phrases, opt-out), 5. timed rules (quiet hours, caps,
waits) in profile order. Within a group, profile order.

The first four groups do not depend on time, so when one of them blocks,
``next_allowed_at`` is ``None``: only a change of state (a hold lifted, a new
template) can allow the contact. When only timed rules block, the checker searches
forward: at each candidate instant every blocking timed rule says when it stops
blocking, the candidate jumps to the latest of those, and the search ends at the
first instant no rule blocks. Each jump skips only blocked instants, so the answer
is the exact earliest allowed instant, not an estimate. Rules that only count
history are monotone (see :mod:`creditdesk.compliance.rules`): once past their
release at the proposed instant they never block again, so the search re-checks
only the others (quiet hours), usually once.

A blocked decision's reason text is written only when it is read
(:class:`~creditdesk.compliance.model.Blocked`): planners read few of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import cast

from creditdesk.compliance.errors import ComplianceInputError
from creditdesk.compliance.history import History
from creditdesk.compliance.localtime import local_of
from creditdesk.compliance.model import (
    CHANNELS,
    PARTIES,
    Allowed,
    Blocked,
    ContactEvent,
    CustomerState,
    Decision,
    ProposedContact,
)
from creditdesk.compliance.profiles import Profile
from creditdesk.compliance.rules import StandingRule, TimedRule, compile_rule

__all__ = ["ALLOWED", "SEARCH_HORIZON_DAYS", "check", "check_many"]

ALLOWED = Allowed()
SEARCH_HORIZON_DAYS = 400
"""How far ahead the next-allowed search looks before answering ``None`` (never)."""
_MAX_STEPS = 10_000
_EMPTY = History()
_DAY_US = 86_400_000_000

_TEMPLATE_ONLY = frozenset({"template_forbidden", "template_required"})
"""Kinds that pass any contact without a template (the opt-out rule is not one)."""
_PHASE = {"hold": 0, "restricted_media": 1, "requires_consent": 1,
          "third_party_unreachable_only": 2, "third_party_objection": 2,
          "template_forbidden": 3, "template_required": 3, "opt_out_required": 3,
          "quiet_hours": 4, "cap": 4, "wait_after": 4}


@dataclass(frozen=True, slots=True)
class _Plan:
    """The compiled rules that govern one (channel, party) pair, in evaluation order."""

    holds: tuple[StandingRule, ...]
    standing: tuple[StandingRule, ...]
    untemplated: tuple[StandingRule, ...]
    """``standing`` without the rules that only read a template: for contacts without one."""
    timed: tuple[TimedRule, ...]
    cyclic: tuple[TimedRule, ...]
    """The timed rules that are not monotone: the only ones the search re-checks."""
    uses_history: bool


def _compile(profile: Profile) -> dict[tuple[str, str], _Plan]:
    ordered = sorted(profile.rules, key=lambda r: _PHASE[r.kind])  # stable: profile order
    plans: dict[tuple[str, str], _Plan] = {}
    compiled = {r.id: compile_rule(r) for r in ordered}
    for channel in CHANNELS:
        for party in PARTIES:
            rules = [r for r in ordered if r.applies(channel, party)]
            holds = tuple(cast(StandingRule, compiled[r.id]) for r in rules if r.kind == "hold")
            standing = tuple(cast(StandingRule, compiled[r.id]) for r in rules
                             if r.kind != "hold" and _PHASE[r.kind] < 4)
            untemplated = tuple(cast(StandingRule, compiled[r.id]) for r in rules
                                if r.kind != "hold" and _PHASE[r.kind] < 4
                                and r.kind not in _TEMPLATE_ONLY)
            timed = tuple(cast(TimedRule, compiled[r.id]) for r in rules if _PHASE[r.kind] == 4)
            cyclic = tuple(t for t in timed if not t.monotone)
            plans[channel, party] = _Plan(holds, standing, untemplated, timed, cyclic,
                                          any(t.uses_history for t in timed))
    return plans


# Compiled plans by profile identity. The entry keeps its profile alive, so an id is
# never reused while cached; the cache is small because profiles are few.
_PLANS: dict[int, tuple[Profile, dict[tuple[str, str], _Plan]]] = {}
# The last profile's entry: a planner checks thousands of contacts under one profile.
_LAST: list[tuple[Profile, dict[tuple[str, str], _Plan]] | None] = [None]


def _plans(profile: Profile) -> dict[tuple[str, str], _Plan]:
    hit = _LAST[0]
    if hit is not None and hit[0] is profile:
        return hit[1]
    hit = _PLANS.get(id(profile))
    if hit is None or hit[0] is not profile:
        if len(_PLANS) >= 64:
            _PLANS.clear()
        hit = _PLANS[id(profile)] = (profile, _compile(profile))
    _LAST[0] = hit
    return hit[1]


def _validate_history(t: int, history: History) -> None:
    last = history.last_us
    if last is not None and last > t:
        ev = history.events[-1]
        raise ComplianceInputError.for_field(
            "history.ts", ev.ts.isoformat(),
            "is after the proposed contact; history holds contacts already made")


def check(proposed: ProposedContact, customer: CustomerState,
          history: Sequence[ContactEvent], profile: Profile) -> Decision:
    """Allow or block ``proposed`` under ``profile``, given the customer and past contacts.

    ``history`` holds the debtor's contacts made before ``proposed.ts`` (an event
    after it is refused with :class:`ComplianceInputError`). To plan several contacts,
    add each allowed one to the history before checking the next.

    >>> from datetime import datetime
    >>> from creditdesk.compliance import load_profile
    >>> cn = load_profile("CN")
    >>> who = CustomerState("Asia/Shanghai")
    >>> def call(ts):
    ...     return ProposedContact(datetime.fromisoformat(ts), "voice", number="+8613800138000")
    >>> check(call("2026-03-02T21:59:59+08:00"), who, [], cn)
    Allowed()
    >>> d = check(call("2026-03-02T22:00:00+08:00"), who, [], cn)
    >>> d.rule_id, d.next_allowed_at.isoformat()
    ('cn.quiet_hours', '2026-03-03T08:00:00+08:00')
    """
    plan = _plans(profile)[proposed.channel, proposed.party]
    if customer.holds:
        for rule in plan.holds:
            why = rule.check(proposed, customer)
            if why is not None:
                return Blocked(rule.id, why, None)
    for rule in plan.standing if proposed.template_norm is not None else plan.untemplated:
        why = rule.check(proposed, customer)
        if why is not None:
            return Blocked(rule.id, why, None)
    timed = plan.timed
    if not timed:
        return ALLOWED
    t = proposed.us
    if type(history) is History or isinstance(history, History):  # the first test is cheap
        hist = history
        if hist.us and hist.us[-1] > t:
            _validate_history(t, hist)
    elif plan.uses_history:
        hist = History(history)
        _validate_history(t, hist)
    else:
        hist = _EMPTY
    local = proposed.ts.astimezone(customer.tz)
    for k, trule in enumerate(timed):
        rel = trule.release(t, local, proposed, customer, hist)
        if rel is not None:
            # rules before k do not block at t; start the search from the others
            source = trule
            for later in timed[k + 1:]:
                other = later.release(t, local, proposed, customer, hist)
                if other is not None and other > rel:
                    rel, source = other, later
            return Blocked(trule.id, partial(trule.reason, t, local, proposed, customer, hist),
                           _next_allowed(plan.cyclic, t, rel, source, proposed, customer, hist))
    return ALLOWED


def _next_allowed(cyclic: Sequence[TimedRule], t: int, first: int, source: TimedRule,
                  p: ProposedContact, s: CustomerState, h: History) -> datetime | None:
    """Earliest instant >= ``first`` no timed rule blocks, or ``None`` past the horizon.

    ``first`` is the latest release among the rules blocking at ``t`` (``source``'s):
    nothing in ``[t, first)`` is allowed, because each of those rules blocks until its
    release. From ``first`` on, no monotone rule blocks (each either did not block at
    ``t`` or has been released), so only the ``cyclic`` ones are re-checked, and not
    the one whose release the candidate is: by contract it does not block there.
    """
    horizon = t + SEARCH_HORIZON_DAYS * _DAY_US
    c = first
    tz = s.tz
    for _ in range(_MAX_STEPS):
        if c > horizon:
            return None
        local = local_of(c, tz)
        latest = None
        mover = source
        for rule in cyclic:
            if rule is source:
                continue
            rel = rule.release(c, local, p, s, h)
            if rel is not None and (latest is None or rel > latest):
                latest, mover = rel, rule
        if latest is None:
            return local
        if latest <= c:  # a rule broke its contract; never loop on it
            raise AssertionError(f"rule release {latest} not after {c}")
        c, source = latest, mover
    return None


def check_many(items: Iterable[tuple[ProposedContact, CustomerState, Sequence[ContactEvent]]],
               profile: Profile) -> list[Decision]:
    """:func:`check` over many (proposed, customer, history) triples: the planner's batch path.

    >>> from datetime import datetime
    >>> from creditdesk.compliance import load_profile
    >>> who = CustomerState("America/New_York")
    >>> p = ProposedContact(datetime.fromisoformat("2026-03-02T20:59:00-05:00"), "voice",
    ...                     number="2125550100")
    >>> [d.allowed for d in check_many([(p, who, [])], load_profile("US"))]
    [True]
    """
    return [check(p, s, h, profile) for p, s, h in items]

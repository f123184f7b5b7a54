"""The contact gate: every proposed contact through the checker, in time order.

The strategy proposes the day's contacts from yesterday's books; here each one passes
:func:`creditdesk.compliance.check` with the customer's running contact history,
exactly as a live contact would: a blocked one is logged with the rule that blocked
it and is not made. Whether a call connects matters to the next check (an answered
call counts against the daily cap of connected calls, an unanswered one against the
attempts per number), so the caller gives a draw per contact: the digital twin draws
it from the answer rates; the live planner passes 0, i.e. assumes every call is
answered, which is the conservative reading of every cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np

from creditdesk.collections.proposals import Proposals
from creditdesk.collections.strategy import CHANNELS
from creditdesk.compliance import ContactEvent, CustomerState, ProposedContact, check
from creditdesk.compliance.history import History
from creditdesk.compliance.profiles import Profile

__all__ = ["CHANNEL_NAMES", "ContactLog", "gate", "horizon_us", "render"]

#: index -> name of the channels (agent and robot are both ``voice`` to the checker)
CHANNEL_NAMES = CHANNELS
SMS, PUSH, ROBOT, AGENT = range(4)
_HOUR_US = 3_600_000_000
_DAY_US = 24 * _HOUR_US


def render(templates: dict[str, str], name: str | None, d: date, dpd: int) -> str | None:
    """A message template with ``{due}`` (the date) and ``{dpd}`` filled in.

    >>> render({"t": "{dpd} days late"}, "t", date(2026, 3, 2), 5)
    '5 days late'
    """
    return None if name is None else templates[name].format(due=d.isoformat(), dpd=dpd)


@dataclass
class ContactLog:
    """The customers' running contact histories, as the checker counts them."""

    profile: Profile
    histories: dict[int, History]
    states: dict[tuple[str, bool], CustomerState]

    @classmethod
    def new(cls, profile: Profile) -> ContactLog:
        return cls(profile, {}, {})

    def state(self, tz: str, hold: bool) -> CustomerState:
        """The state the checker sees for a customer in ``tz`` (under review if ``hold``)."""
        s = self.states.get((tz, hold))
        if s is None:
            s = self.states[tz, hold] = self.peek_state(tz, hold)
        return s

    def peek_state(self, tz: str, hold: bool) -> CustomerState:
        """:meth:`state` without keeping a new one (for work that may yet be undone)."""
        s = self.states.get((tz, hold))
        if s is None:
            s = CustomerState(tz, holds=frozenset({"complaint_review"}) if hold else frozenset())
        return s

    def prune(self, now_us: int) -> None:
        """Forget events no rule of the profile can count any more (:func:`horizon_us`).

        ``now_us`` is the UTC midnight of the local date of the contacts to come (or
        any earlier instant). A history with nothing left is dropped; the others keep
        their events from the cutoff on (:meth:`History.since`, which keeps the rest of
        the history's memo).
        """
        cutoff = now_us - horizon_us(self.profile)
        histories = self.histories
        stale = [k for k, h in histories.items() if h.us and h.us[0] < cutoff]
        for k in stale:
            h = histories[k]
            if h.us[-1] < cutoff:
                del histories[k]
            else:
                histories[k] = h.since(cutoff)


def horizon_us(profile: Profile) -> int:
    """How far before a date's UTC midnight its contacts' rules can look, in µs.

    A contact of local date ``d`` is at most 14 hours before ``d``'s UTC midnight
    (UTC+14). A local-day cap looks back at most 25 hours from the contact (a day
    that gains an hour), a rolling cap or a wait its ``hours``; the longest of these
    plus one day covers both. Without such rules nothing needs keeping but the last
    day (the checker refuses a contact earlier than the history's latest event).

    >>> from creditdesk.compliance import load_profile
    >>> horizon_us(load_profile("CN")) // 3_600_000_000, horizon_us(load_profile("US")) // 3_600_000_000
    (48, 192)
    """
    spans = [_DAY_US if getattr(r, "window", None) == "local_day" else int(r.hours or 0) * _HOUR_US
             for r in profile.rules if r.kind in ("cap", "wait_after")]
    return max(spans, default=0) + _DAY_US


def gate(props: Proposals, d: date, customer: np.ndarray, tz: np.ndarray, phone: np.ndarray,
         hold: np.ndarray, dpd: np.ndarray, log: ContactLog,
         connect_u: np.ndarray, rpc_by_hour: np.ndarray, robot_factor: float,
         templates: dict[str, str], *, exact: bool = False
         ) -> tuple[np.ndarray, list[str | None], np.ndarray, np.ndarray, np.ndarray]:
    """Check each proposal in time order and draw whether it connected.

    Returns (allowed, blocking rule or None, connected, UTC timestamps in microseconds,
    skipped). A retry step is skipped when an earlier voice contact that day reached
    the debtor. Message texts are the strategy's ``templates`` with ``{due}`` (the
    date) and ``{dpd}`` filled in.
    A call's outcome is drawn here because the next check must count it: an answered
    call counts against the daily cap of connected calls, an unanswered one against
    the attempts per number.

    The answers and the log come from :mod:`creditdesk.collections.gate_fast`, which
    saves the work around the checker without changing either; ``exact=True`` runs the
    one-by-one reference it is tested against (and so does a profile it does not cover).
    """
    from creditdesk.collections.gate_fast import fast_path_applies, gate_fast

    if exact or not fast_path_applies(log.profile):
        return _gate_reference(props, d, customer, tz, phone, hold, dpd, log, connect_u,
                               rpc_by_hour, robot_factor, templates)
    return gate_fast(props, d, customer, tz, phone, hold, dpd, log, connect_u, rpc_by_hour,
                     robot_factor, templates)


def _gate_reference(props: Proposals, d: date, customer: np.ndarray, tz: np.ndarray,
                    phone: np.ndarray, hold: np.ndarray, dpd: np.ndarray, log: ContactLog,
                    connect_u: np.ndarray, rpc_by_hour: np.ndarray, robot_factor: float,
                    templates: dict[str, str]
                    ) -> tuple[np.ndarray, list[str | None], np.ndarray, np.ndarray, np.ndarray]:
    """The gate one contact at a time: a checked contact and event per proposal."""
    n = len(props)
    allowed = [False] * n
    connected = [False] * n
    ts_list = [0] * n
    skipped = [False] * n
    reached: set[int] = set()
    rules: list[str | None] = [None] * n
    order = np.lexsort((props.account, props.minute)).tolist()
    # Python scalars once: indexing numpy arrays one element at a time is slow
    acc_l = props.account.tolist()
    ch_l = props.channel.tolist()
    min_l = props.minute.tolist()
    rem_l = props.reminder.tolist()
    retry_l = props.retry.tolist()
    tpl_l = props.template.tolist()
    third_l = props.party.tolist()
    u_l = connect_u.tolist()
    rpc = rpc_by_hour.tolist()
    instants: dict[tuple[str, int], tuple[datetime, int]] = {}
    texts: dict[tuple[str | None, int], str | None] = {}
    empty = History()
    profile = log.profile
    for i in order:
        a = acc_l[i]
        ch = ch_l[i]
        if retry_l[i] and a in reached:
            skipped[i] = True
            continue
        c = int(customer[a])
        zname = str(tz[a])
        m = min_l[i]
        hit = instants.get((zname, m))
        if hit is None:
            ts0 = datetime(d.year, d.month, d.day, m // 60, m % 60, tzinfo=ZoneInfo(zname))
            hit = instants[zname, m] = (ts0, int(ts0.astimezone(UTC).timestamp()) * 1_000_000)
        ts, ts_list[i] = hit
        number = None if phone[a] is None else str(phone[a])
        party = "third_party" if third_l[i] else "debtor"
        if ch in (SMS, PUSH):
            key = (tpl_l[i], 0 if rem_l[i] else int(dpd[a]))
            text = texts.get(key)
            if text is None:
                text = texts[key] = render(templates, key[0], d, key[1])
            proposed = ProposedContact(ts, "sms" if ch == SMS else "push", party=party,
                                       number=number, template=text, opt_out=True)
        else:
            proposed = ProposedContact(ts, "voice", party=party, number=number,
                                       robot=ch == ROBOT)
        hist = log.histories.get(c)
        decision = check(proposed, log.state(zname, bool(hold[c])),
                         hist if hist is not None else empty, profile)
        if not decision.allowed:
            rules[i] = getattr(decision, "rule_id", "blocked")
            continue
        allowed[i] = True
        if ch in (SMS, PUSH):
            event = ContactEvent(ts, proposed.channel, party=party, number=number)
        else:
            ok = u_l[i] < rpc[m // 60] * (robot_factor if ch == ROBOT else 1.0)
            connected[i] = ok
            if ok:
                reached.add(a)
            event = ContactEvent(ts, "voice", party=party, number=number, connected=ok, conversation=ok,
                                 robot=ch == ROBOT)
        log.histories[c] = hist.added(event) if hist is not None else History([event])
    return (np.array(allowed, bool), rules, np.array(connected, bool),
            np.array(ts_list, np.int64), np.array(skipped, bool))

"""The built-in reminder-and-call policy, gated by the contact-rules checker.

Until the collections engine exists, the daily cycle needs *some* treatment so the
twin shows collections at work: the industry's plain bucket rules. Pre-due SMS
reminders two days before the due date for accounts that revolve, are in arrears or that
the behaviour score flags (the policy sees only what a lender sees, never the twin's
latent risk); for
accounts in arrears, SMS on set days, a robot call every other day in M1, an agent
call (with one evening retry) every day in M2-M3 and every third day beyond.

Every proposed contact passes :func:`creditdesk.compliance.check` with the
customer's running contact history, exactly as a live contact would: a blocked one
is logged with the rule that blocked it and is not made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np

from creditdesk.compliance import ContactEvent, CustomerState, ProposedContact, check
from creditdesk.compliance.history import History
from creditdesk.compliance.profiles import Profile

__all__ = ["CHANNEL_NAMES", "ContactLog", "Proposals", "gate", "propose"]

#: index -> name of the channels the policy uses (agent and robot are both ``voice``)
CHANNEL_NAMES = ("sms", "push", "robot", "agent")
SMS, PUSH, ROBOT, AGENT = range(4)
#: message templates: signed with the lender's name (CN rules want the sender identified)
_REMINDER = "【信用助手】您本期账单将于{due}后两天到期，请按时还款。回TD退订"
_DUNNING = "【信用助手】您的账款已逾期{dpd}天，请尽快还款，如有困难可来电协商还款计划。回TD退订"
_HISTORY_DAYS = 8


@dataclass(frozen=True)
class Proposals:
    """Contacts proposed for one day, one row each (parallel arrays)."""

    account: np.ndarray   # account index
    channel: np.ndarray   # index into CHANNEL_NAMES
    minute: np.ndarray    # local minute of the day
    reminder: np.ndarray  # True for a pre-due reminder

    def __len__(self) -> int:
        return len(self.account)


def propose(day: int, dpd: np.ndarray, days_to_due: np.ndarray, total_due: np.ndarray,
            status_now: np.ndarray, flagged: np.ndarray, open_: np.ndarray) -> Proposals:
    """The bucket-rules policy's contacts for one day, from yesterday's books.

    >>> p = propose(0, np.array([0, 1, 40]), np.array([2, -1, -31]), np.array([500, 900, 900]),
    ...             np.array([1, 2, 3]), np.zeros(3, bool), np.ones(3, bool))
    >>> [CHANNEL_NAMES[c] for c in p.channel]
    ['sms', 'sms', 'agent', 'agent']
    """
    rows: list[tuple[np.ndarray, int, int, bool]] = []
    remind = open_ & (dpd == 0) & (days_to_due == 2) & (total_due > 0) & (
        (status_now > 0) | flagged)
    rows.append((np.nonzero(remind)[0], SMS, 10 * 60, True))
    late = open_ & (dpd > 0) & (total_due > 0)
    sms_days = np.isin(dpd, [1, 3, 7, 15, 25]) | ((dpd > 30) & (dpd % 7 == 0))
    rows.append((np.nonzero(late & sms_days)[0], SMS, 9 * 60 + 30, False))
    m1_robot = late & (dpd >= 3) & (dpd <= 30) & (dpd % 2 == 1)
    rows.append((np.nonzero(m1_robot)[0], ROBOT, 19 * 60, False))
    agent = late & (((dpd > 30) & (dpd <= 90)) | ((dpd > 90) & (dpd % 3 == 0)))
    rows.append((np.nonzero(agent)[0], AGENT, 12 * 60 + 15, False))
    rows.append((np.nonzero(agent)[0], AGENT, 19 * 60 + 30, False))  # retry if unanswered
    acct = np.concatenate([r[0] for r in rows]).astype(np.int64)
    return Proposals(
        account=acct,
        channel=np.concatenate([np.full(len(r[0]), r[1]) for r in rows]).astype(np.int8),
        minute=np.concatenate([np.full(len(r[0]), r[2]) for r in rows]).astype(np.int32),
        reminder=np.concatenate([np.full(len(r[0]), r[3]) for r in rows]),
    )


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
        key = (tz, hold)
        s = self.states.get(key)
        if s is None:
            s = CustomerState(tz, holds=frozenset({"complaint_review"}) if hold else frozenset())
            self.states[key] = s
        return s

    def prune(self, now_us: int) -> None:
        """Forget events older than the longest rule window (8 days covers 7-day rules)."""
        cutoff = now_us - _HISTORY_DAYS * 86_400_000_000
        for k, h in list(self.histories.items()):
            if h.us and h.us[0] < cutoff:
                kept = [e for e in h if e.us >= cutoff]
                if kept:
                    self.histories[k] = History(kept)
                else:
                    del self.histories[k]


def gate(props: Proposals, d: date, customer: np.ndarray, tz: np.ndarray, phone: np.ndarray,
         hold: np.ndarray, dpd: np.ndarray, log: ContactLog,
         connect_u: np.ndarray, rpc_by_hour: np.ndarray, robot_factor: float
         ) -> tuple[np.ndarray, list[str | None], np.ndarray, np.ndarray, np.ndarray]:
    """Check each proposal in time order and draw whether it connected.

    Returns (allowed, blocking rule or None, connected, UTC timestamps in microseconds,
    skipped). An evening agent retry is skipped when the midday call got through.
    A call's outcome is drawn here because the next check must count it: an answered
    call counts against the daily cap of connected calls, an unanswered one against
    the attempts per number.
    """
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
    u_l = connect_u.tolist()
    rpc = rpc_by_hour.tolist()
    instants: dict[tuple[str, int], tuple[datetime, int]] = {}
    texts: dict[tuple[bool, int], str] = {}
    empty = History()
    profile = log.profile
    for i in order:
        a = acc_l[i]
        ch = ch_l[i]
        if ch == AGENT and a in reached:
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
        number = str(phone[a])
        if ch in (SMS, PUSH):
            key = (bool(rem_l[i]), 0 if rem_l[i] else int(dpd[a]))
            text = texts.get(key)
            if text is None:
                text = texts[key] = (_REMINDER.format(due=d.isoformat()) if key[0]
                                     else _DUNNING.format(dpd=key[1]))
            proposed = ProposedContact(ts, "sms" if ch == SMS else "push", number=number,
                                       template=text, opt_out=True)
        else:
            proposed = ProposedContact(ts, "voice", number=number, robot=ch == ROBOT)
        hist = log.histories.get(c)
        decision = check(proposed, log.state(zname, bool(hold[c])),
                         hist if hist is not None else empty, profile)
        if not decision.allowed:
            rules[i] = getattr(decision, "rule_id", "blocked")
            continue
        allowed[i] = True
        if ch in (SMS, PUSH):
            event = ContactEvent(ts, proposed.channel, number=number)
        else:
            ok = u_l[i] < rpc[m // 60] * (robot_factor if ch == ROBOT else 1.0)
            connected[i] = ok
            if ok and ch == AGENT:
                reached.add(a)
            event = ContactEvent(ts, "voice", number=number, connected=ok, conversation=ok,
                                 robot=ch == ROBOT)
        log.histories[c] = hist.added(event) if hist is not None else History([event])
    return (np.array(allowed, bool), rules, np.array(connected, bool),
            np.array(ts_list, np.int64), np.array(skipped, bool))

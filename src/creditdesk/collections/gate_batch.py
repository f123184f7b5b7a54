"""The gate's batch path: a day's customers that no history rule can touch, decided at once.

Most of a date's proposals belong to customers who get one to three contacts, far
from any cap: for them every contact's answer is the checker's answer on an empty
history (the rules that read the history cannot block), and that answer depends only
on the instant, channel, party, text and customer state. This module decides those
customers with array operations instead of one contact at a time, and hands the rest
to :mod:`creditdesk.collections.gate_fast`'s loop. Customers are independent (a
history is one customer's, and an account belongs to one customer), so the split
changes no answer. A customer is decided here when all of these hold:

* every proposal's (channel, party) has either no history rule (messages) or only
  caps and waits (:class:`~creditdesk.collections.gate_fast._CallRules` ``exact``),
  and its customer state has no objected numbers: the conditions of the loop's own
  reuse of decisions;
* its proposals, in the gate's order, are not earlier than one another nor than its
  history's latest event (the checker refuses an earlier contact);
* no cap or wait can block any of them. For each such rule, an upper bound on what it
  could count: the history's events it counts (any number, which bounds a per-number
  count) after the earliest window start among the customer's proposals, plus every
  proposal of the day whose event would count (an event's flags are known before the
  gate: a call's outcome is the caller's draw). A cap cannot block below its limit,
  a wait cannot block with nothing to wait after.

Then, exactly as the loop: a retry is skipped when an earlier call to the account
connected (the first proposal that would connect is never skipped, so "an earlier one
would connect" is the same test, and it vectorises), the others take the empty-history
answer, a call connects when its draw is below the hour's answer rate, and the allowed
contacts' events extend the customer's history in order (:meth:`History.extended`).

Nothing in the log changes until every step that can fail has passed: the customer
states are looked up without being kept (:meth:`ContactLog.peek_state`) and kept at
the end for the proposals the reference would have checked. Anything this path cannot
take (a bad number, zone, template or index) raises, and the caller then runs the
loop, which fails or answers at the same row as the reference.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from creditdesk.collections.gate import PUSH, ROBOT, SMS, ContactLog, render
from creditdesk.collections.gate_parts import CallRules, Prototype, made_event, normalised
from creditdesk.collections.proposals import Proposals
from creditdesk.compliance import ContactEvent, CustomerState, ProposedContact, check
from creditdesk.compliance.errors import ComplianceInputError
from creditdesk.compliance.history import History
from creditdesk.compliance.rules import _Cap, _Wait

__all__ = ["DayPlan", "plan_day"]

_MINUTES = 24 * 60
_CNAMES = ("sms", "push", "voice")
_PARTIES = ("debtor", "third_party")
_ANY_NUMBER = "+8613900000000"


class Unsupported(ValueError):
    """Input the batch path does not take; the loop answers it as the reference does."""


@dataclass
class DayPlan:
    """The batch's answers (at ``batch`` positions) and what is left for the loop.

    ``loop`` lists the other proposals in the gate's order, ``loop_customers`` their
    customers; ``histories`` are the batch customers' extended histories and
    ``rules`` the rule that blocked each blocked batch proposal.
    """

    batch: np.ndarray
    allowed: np.ndarray
    connected: np.ndarray
    ts_us: np.ndarray
    skipped: np.ndarray
    rules: dict[int, str]
    histories: dict[int, History]
    states: dict[tuple[str, bool], CustomerState]
    loop: list[int]
    loop_customers: set[int]


def _codes(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Each value's ``str`` as a small integer code, and the strings by code.

    Equal strings of unequal values get two codes; a code only groups proposals, so
    that costs a repeated decision, never a wrong one.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return codes.astype(np.int64), [str(v) for v in uniques]


def _first(keys: np.ndarray) -> tuple[list[int], list[int], np.ndarray]:
    """Distinct keys, the first position of each, and each position's key number."""
    uniq, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    return uniq.tolist(), first.tolist(), inv.reshape(-1)


def plan_day(props: Proposals, d: date, cust_p: np.ndarray, tz_p: np.ndarray,
             phone_p: np.ndarray, dpd_p: np.ndarray, hold_p: np.ndarray,
             order: np.ndarray, log: ContactLog, connect_u: np.ndarray,
             rpc_by_hour: np.ndarray, robot_factor: float, templates: dict[str, str],
             call_rules: tuple[CallRules, CallRules],
             history_free: dict[tuple[str, str], bool]) -> DayPlan:
    """Decide the customers no history rule can touch; see the module docstring.

    ``cust_p``, ``tz_p``, ``phone_p``, ``dpd_p`` and ``hold_p`` are each proposal's
    customer, zone, number, days past due and hold; ``order`` the gate's order.
    """
    n = len(props)
    ch = props.channel.astype(np.int64)
    minute = props.minute.astype(np.int64)
    third = props.party.astype(np.int64)
    retry = props.retry.astype(bool)
    acc = props.account.astype(np.int64)
    u = np.asarray(connect_u, np.float64)
    rpc = np.asarray(rpc_by_hour, np.float64)
    if n == 0:
        raise Unsupported("no proposals")
    if (u.shape != (n,) or ch.min() < 0 or ch.max() > 3 or third.min() < 0 or third.max() > 1
            or minute.min() < 0 or minute.max() >= _MINUTES or rpc.ndim != 1):
        raise Unsupported("proposals outside the batch path's ranges")
    hold_p = hold_p.astype(bool)  # the truth of each value, as bool() reads it
    zc, znames = _codes(tz_p)
    msg = (ch == SMS) | (ch == PUSH)
    cc = np.where(ch == SMS, 0, np.where(ch == PUSH, 1, 2))

    # the instant of each (zone, minute)
    keys, first, inv = _first(zc * _MINUTES + minute)
    instants: list[datetime] = []
    us_u: list[int] = []
    for k in keys:
        m = k % _MINUTES
        ts = datetime(d.year, d.month, d.day, m // 60, m % 60, tzinfo=ZoneInfo(znames[k // _MINUTES]))
        instants.append(ts)
        us_u.append(int(ts.astimezone(UTC).timestamp()) * 1_000_000)
    inst_p = inv
    us_p = np.array(us_u, np.int64)[inv]

    # message texts, coded by the text itself
    texts: list[str | None] = [None]
    text_code: dict[str | None, int] = {None: 0}
    rendered: dict[tuple[object, int], int] = {}
    tcode = np.zeros(n, np.int64)
    msg_at = np.flatnonzero(msg)
    got = []
    for tpl, rem, late in zip(props.template[msg_at].tolist(), props.reminder[msg_at].tolist(),
                              dpd_p[msg_at].tolist(), strict=True):
        key = (tpl, 0 if rem else int(late))
        code = rendered.get(key)
        if code is None:
            text = render(templates, key[0], d, key[1])
            code = rendered[key] = text_code.setdefault(text, len(texts))
            if code == len(texts):
                texts.append(text)
        got.append(code)
    tcode[msg_at] = got

    # every number checked and normalised as the constructor would; a bad one's customer
    # goes to the loop, which fails at its row (unless the contact is skipped first)
    pcode, _ = pd.factorize(phone_p, use_na_sentinel=False)
    pairs, pfirst, pinv = _first(pcode.astype(np.int64) * 3 + cc)
    normed: list[str | None] = []
    bad_u = np.zeros(len(pairs), bool)
    for k, (pair, j) in enumerate(zip(pairs, pfirst, strict=True)):
        raw = phone_p[j]
        try:
            normed.append(normalised(_CNAMES[pair % 3], None if raw is None else str(raw)))
        except ComplianceInputError:
            normed.append(None)
            bad_u[k] = True
    bad_p = bad_u[pinv]
    norm_p = np.array(normed, dtype=object)[pinv]

    # the empty-history answer per (instant, channel, party, text, hold)
    states: dict[tuple[str, bool], CustomerState] = {}
    profile = log.profile
    empty = History()
    dkeys, first, dinv = _first(np.where(
        bad_p, -1, (((inst_p * 4 + ch) * 2 + third) * len(texts) + tcode) * 2 + hold_p))
    ok_u = np.zeros(len(dkeys), bool)
    slow_u = np.zeros(len(dkeys), bool)
    rule_u: list[str | None] = [None] * len(dkeys)
    for k, j in enumerate(first):
        if bad_p[j]:
            slow_u[k] = True
            continue
        zname = znames[int(zc[j])]
        hv = bool(hold_p[j])
        state = states.get((zname, hv))
        if state is None:
            state = states[zname, hv] = log.peek_state(zname, hv)
        cj, tj = int(ch[j]), int(third[j])
        party = _PARTIES[tj]
        cname = _CNAMES[int(cc[j])]
        raw = phone_p[j]
        number = None if raw is None else str(raw)
        if state.objected_numbers or not (
                history_free[cname, party] if cj in (SMS, PUSH) else call_rules[tj].exact):
            slow_u[k] = True
            continue
        ts = instants[int(inst_p[j])]
        proposed = (
            ProposedContact(ts, cname, party=party, number=number, template=texts[int(tcode[j])],
                            opt_out=True)
            if cj in (SMS, PUSH) else
            ProposedContact(ts, "voice", party=party, number=number, robot=cj == ROBOT))
        decision = check(proposed, state, empty, profile)
        ok_u[k] = decision.allowed
        if not decision.allowed:
            rule_u[k] = getattr(decision, "rule_id", "blocked")
    base_ok = ok_u[dinv]
    slow_p = slow_u[dinv]

    # each call's outcome if made: the caller's draw against the hour's answer rate
    would = ~msg & (u < rpc[minute // 60] * np.where(ch == ROBOT, robot_factor, 1.0))

    # per customer, in the gate's order
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    g = np.lexsort((rank, cust_p))
    cg = cust_p[g]
    new = np.r_[True, cg[1:] != cg[:-1]]
    start = np.flatnonzero(new)
    gid = np.cumsum(new) - 1
    custs = cg[start].tolist()
    slow_c = np.logical_or.reduceat(slow_p[g], start)
    ug = us_p[g]
    back = (ug[1:] < ug[:-1]) & ~new[1:]
    slow_c[gid[1:][back]] = True
    first_us = ug[start].tolist()

    # the caps and waits: an upper bound on what each could count, per customer
    flags_p = _event_flags(ch, third, would)
    bounds = []
    seen: set[str] = set()
    for calls in call_rules:
        for _, rule in calls.counted:
            if rule.id in seen:
                continue
            seen.add(rule.id)
            lower_p = _lowers(rule, keys, instants, us_u, znames, log, states)[inst_p]
            counted = np.isin(flags_p, list(rule.accepted))
            today = np.add.reduceat(counted[g].astype(np.int64), start)
            lower_c = np.minimum.reduceat(lower_p[g], start)
            limit = rule.limit if type(rule) is _Cap else 1
            slow_c |= today >= limit
            bounds.append((rule, limit, today.tolist(), lower_c.tolist()))
    hists = log.histories
    slow_l = slow_c.tolist()
    # before every window (the usual case): only the order needs checking
    before = np.minimum.reduce([np.asarray(b[3]) for b in bounds]).tolist() if bounds else \
        first_us
    for k, c in enumerate(custs):
        h = hists.get(c)
        if h is None or not h.us or slow_l[k]:
            continue
        last = h.us[-1]
        if last > first_us[k]:
            slow_l[k] = True
            continue
        if last <= before[k]:
            continue
        for rule, limit, today_l, lower_l in bounds:
            if last <= lower_l[k]:  # nothing in the history is inside the window
                continue
            found = h.matching(rule.accepted)
            if today_l[k] + len(found) - bisect_right(found, lower_l[k]) >= limit:
                slow_l[k] = True
                break
    slow_c = np.array(slow_l, bool)
    batch_p = np.empty(n, bool)
    batch_p[g] = ~slow_c[gid]

    # retries skipped once an earlier call to the account would connect
    a_ord = np.lexsort((rank, acc))
    acc_s = acc[a_ord]
    pc = (base_ok & would)[a_ord].astype(np.int64)
    starts = np.r_[True, acc_s[1:] != acc_s[:-1]]
    cs = np.cumsum(pc) - pc
    earlier = cs - cs[np.flatnonzero(starts)][np.cumsum(starts) - 1]
    reached = np.empty(n, bool)
    reached[a_ord] = earlier > 0
    skipped = retry & reached
    allowed = base_ok & ~skipped
    connected = allowed & would
    ts_out = np.where(skipped, 0, us_p)
    blocked = np.flatnonzero(batch_p & ~base_ok & ~skipped).tolist()
    rules = {i: str(rule_u[int(dinv[i])]) for i in blocked}

    histories = _extend(g[(batch_p & allowed)[g]], zc, minute, ch, third, connected, cc,
                        cust_p, phone_p, instants, inst_p, norm_p, hists)
    checked = np.unique((zc * 2 + hold_p)[batch_p & ~skipped]).tolist()
    kept = {key: states[key] for key in ((znames[k // 2], bool(k % 2)) for k in checked)}
    loop = order[~batch_p[order]].tolist()
    return DayPlan(batch_p, allowed, connected, ts_out, skipped, rules, histories, kept, loop,
                   {int(c) for c, s in zip(custs, slow_l, strict=True) if s})


def _event_flags(ch: np.ndarray, third: np.ndarray, would: np.ndarray) -> np.ndarray:
    """Each proposal's event flags if made, from events the real constructor builds.

    An event's flags do not depend on its instant or number (the model derives them
    from the channel, party and outcome), so any valid ones serve.
    """
    keys, _, inv = _first((ch * 2 + third) * 2 + would)
    ts = datetime(2000, 1, 1, tzinfo=UTC)
    flags = []
    for k in keys:
        c = k // 4
        name = _CNAMES[min(c, 2)]  # a robot's call and an agent's are both voice
        flags.append(made_event(ts, name, _PARTIES[(k // 2) % 2], _ANY_NUMBER, bool(k % 2),
                                c == ROBOT).flags)
    return np.array(flags, np.int64)[inv]


def _lowers(rule: _Cap | _Wait, keys: list[int], instants: list[datetime], us_u: list[int],
            znames: list[str], log: ContactLog, states: dict[tuple[str, bool], CustomerState]
            ) -> np.ndarray:
    """The lower end of ``rule``'s window at each (zone, minute)'s instant."""
    out = []
    for k, ts, t in zip(keys, instants, us_u, strict=True):
        if type(rule) is _Cap:
            zname = znames[k // _MINUTES]
            state = states.get((zname, False))
            if state is None:  # kept for the next rule; only checked ones reach the log
                state = states[zname, False] = log.peek_state(zname, False)
            out.append(rule._bounds(t, ts.astimezone(state.tz), state)[0])
        else:
            out.append(t - rule.span)
    return np.array(out, np.int64)


def _extend(pos: np.ndarray, zc: np.ndarray, minute: np.ndarray, ch: np.ndarray,
            third: np.ndarray, connected: np.ndarray, cc: np.ndarray, cust_p: np.ndarray,
            phone_p: np.ndarray, instants: list[datetime], inst_p: np.ndarray,
            norm_p: np.ndarray, hists: dict[int, History]
            ) -> dict[int, History]:
    """The allowed contacts' events (``pos``: by customer, in order) added to histories."""
    if not len(pos):
        return {}
    _, first, inv = _first(
        (((zc[pos] * _MINUTES + minute[pos]) * 4 + ch[pos]) * 2 + third[pos]) * 2
        + connected[pos])
    pos_l = pos.tolist()
    protos: list[Prototype[ContactEvent]] = []
    for j in first:
        i = pos_l[j]
        raw = phone_p[i]
        protos.append(Prototype(made_event(
            instants[int(inst_p[i])], _CNAMES[int(cc[i])], _PARTIES[int(third[i])],
            None if raw is None else str(raw), bool(connected[i]), int(ch[i]) == ROBOT)))
    events = [protos[k].with_number(nm)
              for k, nm in zip(inv.tolist(), norm_p[pos].tolist(), strict=True)]
    cs = cust_p[pos]
    cut = np.flatnonzero(np.r_[True, cs[1:] != cs[:-1]])
    out: dict[int, History] = {}
    cut_l = cut.tolist()
    for c, s, e in zip(cs[cut].tolist(), cut_l, [*cut_l[1:], len(pos_l)], strict=True):
        h = hists.get(c)
        out[c] = h.extended(events[s:e]) if h is not None else History(events[s:e])
    return out

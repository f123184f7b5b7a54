"""The contact gate's fast path: the same answers as the one-by-one gate, for less work.

Most of a date's customers are decided first, all at once, by
:mod:`creditdesk.collections.gate_batch` (those no cap or wait can touch that day); the
loop described here takes the others, in the same order, on their own histories.

The twin's daily loop spent most of its time in the gate, and most of that not in the
checker's rules but around them: a validated :class:`ProposedContact` and
:class:`ContactEvent` built per contact (about 10 µs each, mostly validating and
normalising a phone number the gate passes in the same form every day), and the
template rules' regular expressions run again for every message with the same text.
This path keeps the reference's loop, order and arithmetic, and saves that work in
three ways, each exact:

* Contacts and events are copied from a prototype built by the real constructor for
  the same instant, channel, party, text and outcome, with only the number replaced
  by the model's own normalisation of it (:func:`creditdesk.compliance.model._address`,
  which also refuses a bad number with the same error the constructor raises). The
  copy is equal to what the constructor would build, hidden fields included, because
  none of the derived fields (``us``, ``flags``, ``template_norm``) depends on the
  number; :func:`fast_path_applies` checks that the derived fields are still those.
* A contact whose (channel, party) no history rule governs (no ``cap`` or
  ``wait_after`` applies: the checker's plan then reads the history only to refuse a
  later event) is decided once per (instant, channel, party, text, customer state)
  by the real :func:`~creditdesk.compliance.check` and the answer reused. The number
  is not in the key: of the rule kinds the fast path accepts (``_NUMBER_BLIND``)
  only the third-party objection rule reads it, and only through the state's
  ``objected_numbers``, so a state with any is always checked one by one; a history
  holding an event after the contact is checked one by one too (the checker refuses it).
* A call (voice, the channel the caps and waits govern) is decided in two parts. The
  part that does not read the history, the checker's answer on an empty history, is
  decided once per (instant, channel, party, customer state) by the real checker, as
  for messages. The history rules are then counted on the customer's running
  :class:`History`, in the checker's order (:class:`_CallRules`, from the checker's
  own compiled plan): a cap blocks when at least ``limit`` of the events it counts
  (its memo list, the same the rule's ``release`` reads) are inside the window whose
  lower end the rule itself computes (``_bounds``, memoised per instant and zone); a
  wait blocks when the latest event it waits after is within its span. That is the
  condition under which the rule's ``release`` is not ``None``, and the checker
  reports the first timed rule in its order that blocks. So: a standing rule that
  blocks on the empty history blocks here too (standing rules come first); otherwise
  the answer is the first history rule placed before the empty-history answer's
  blocking rule (or any, if that answer allows) that blocks on the real history, else
  the empty-history answer. The next allowed instant, which the gate never reads, is
  not searched for. A history with an event after the call, a state with objected
  numbers, or a history rule of another class sends the call to the checker.
* Every other contact is checked one by one by the real checker, with its history.

The running histories are extended with :meth:`History.added`, which appends an event
later than every other and carries the history's memo over instead of rebuilding both
(the same history and memo a rebuild makes, tested), and :meth:`ContactLog.prune`
trims them with :meth:`History.since`. The cyclic garbage collector is paused while
the loop runs (and restored after, also on an error): the loop makes no reference
cycles, and each pass of the collector walked the ever-growing log for nothing, which
was about half of the gate's time.

Around that, each proposal's customer, zone, phone and hold are read from the arrays
once, by fancy indexing (an index out of range, or a customer array that is not of
integers, hands the call to the reference, which fails or converts at the same row
as before), and a number's normalisation is memoised across dates.

A profile with a rule kind not listed here, or a model whose derived fields changed,
runs the reference instead (:func:`fast_path_applies`); the property tests in
``tests/unit/test_gate_fast.py`` compare both paths on varied days, on call-heavy days
that take the caps and waits to their limits over several days of one (pruned) log,
under CN, US and a profile that orders history rules before the quiet hours.
"""

from __future__ import annotations

import gc
from bisect import bisect_right
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from creditdesk.collections.gate import PUSH, ROBOT, SMS, ContactLog, _gate_reference, render
from creditdesk.collections.gate_batch import plan_day
from creditdesk.collections.gate_parts import CallRules, Prototype, made_event, normalised
from creditdesk.collections.proposals import Proposals
from creditdesk.compliance import ContactEvent, CustomerState, ProposedContact, check
from creditdesk.compliance.history import History
from creditdesk.compliance.profiles import Profile
from creditdesk.compliance.rules import _Cap, _Wait

__all__ = ["fast_path_applies", "gate_fast"]

_NUMBER_BLIND = frozenset({
    "hold", "restricted_media", "requires_consent", "third_party_unreachable_only",
    "third_party_objection", "template_forbidden", "template_required", "opt_out_required",
    "quiet_hours", "cap", "wait_after"})
"""Rule kinds read to compare numbers only for equality (caps per number) or membership
(objected numbers): the kinds whose evaluators (``compliance/rules.py``) were checked."""
_HISTORY_KINDS = frozenset({"cap", "wait_after"})
"""The timed rule kinds that read the history (``uses_history`` in ``compliance/rules.py``)."""
_DERIVED = {ProposedContact: {"us", "template_norm"}, ContactEvent: {"us", "flags"}}
"""Fields each model derives in ``__post_init__``; a copy keeps them (none reads the number)."""



def fast_path_applies(profile: Profile) -> bool:
    """Whether :func:`gate_fast` answers exactly as the reference under ``profile``."""
    if any(r.kind not in _NUMBER_BLIND for r in profile.rules):
        return False
    return all({f.name for f in fields(cls) if not f.init} == derived
               for cls, derived in _DERIVED.items())




def _blocks(rule: _Cap | _Wait, lower: int, hist: History, number: str | None) -> bool:
    """Whether ``rule.release(c, ...)`` is not ``None``, counted on ``hist``'s memo.

    ``lower`` is the window's lower end at ``c`` (a cap's ``_bounds``; ``c - span`` for
    a wait): a cap blocks when at least ``limit`` counted events are after it, a wait
    when its newest starting event is. ``hist`` holds no event after ``c``.
    """
    if type(rule) is _Cap:
        counted = (hist.matching_number(rule.accepted, number) if rule.per_number
                   else hist.matching(rule.accepted))
        total = len(counted)
        return total >= rule.limit and total - bisect_right(counted, lower) >= rule.limit
    found = hist.matching(rule.accepted)
    return bool(found) and found[-1] > lower


def gate_fast(props: Proposals, d: date, customer: np.ndarray, tz: np.ndarray, phone: np.ndarray,
              hold: np.ndarray, dpd: np.ndarray, log: ContactLog,
              connect_u: np.ndarray, rpc_by_hour: np.ndarray, robot_factor: float,
              templates: dict[str, str]
              ) -> tuple[np.ndarray, list[str | None], np.ndarray, np.ndarray, np.ndarray]:
    """:func:`creditdesk.collections.gate.gate`'s answers and log; see the module docstring."""
    paused = gc.isenabled()
    if paused:  # the loop makes no reference cycles; see the module docstring
        gc.disable()
    try:
        return _gate_fast(props, d, customer, tz, phone, hold, dpd, log, connect_u,
                          rpc_by_hour, robot_factor, templates)
    finally:
        if paused:
            gc.enable()


def _gate_fast(props: Proposals, d: date, customer: np.ndarray, tz: np.ndarray,
               phone: np.ndarray, hold: np.ndarray, dpd: np.ndarray, log: ContactLog,
               connect_u: np.ndarray, rpc_by_hour: np.ndarray, robot_factor: float,
               templates: dict[str, str]
               ) -> tuple[np.ndarray, list[str | None], np.ndarray, np.ndarray, np.ndarray]:
    n = len(props)
    order = np.lexsort((props.account, props.minute))
    try:  # each proposal's customer, zone, phone and hold, read once for all
        cust_p = customer[props.account]
        tz_p, phone_p, dpd_p, hold_p = (tz[props.account], phone[props.account],
                                        dpd[props.account], hold[cust_p])
    except IndexError:  # the reference fails at the same row, after the same work
        return _gate_reference(props, d, customer, tz, phone, hold, dpd, log, connect_u,
                               rpc_by_hour, robot_factor, templates)
    if cust_p.dtype.kind not in "iu":  # int() of a float index; the reference handles it
        return _gate_reference(props, d, customer, tz, phone, hold, dpd, log, connect_u,
                               rpc_by_hour, robot_factor, templates)
    profile = log.profile
    history_free = {(ch, party): not any(r.kind in _HISTORY_KINDS and r.applies(ch, party)
                                         for r in profile.rules)
                    for ch in ("sms", "push", "voice") for party in ("debtor", "third_party")}
    call_rules = (CallRules(profile, "debtor"), CallRules(profile, "third_party"))
    run = _Run(d, templates, robot_factor, history_free, call_rules)
    cols = _Columns(props, cust_p, tz_p, phone_p, dpd_p, hold_p, connect_u, rpc_by_hour)

    def one_by_one() -> tuple[np.ndarray, list[str | None], np.ndarray, np.ndarray, np.ndarray]:
        out = _Out(n)
        _loop(order.tolist(), cols, log, log.histories, out, run)
        return out.arrays()

    try:  # the customers no history rule can touch, at once (gate_batch)
        plan = plan_day(props, d, cust_p, tz_p, phone_p, dpd_p, hold_p, order, log, connect_u,
                        rpc_by_hour, robot_factor, templates, call_rules, history_free)
    except Exception:  # input the batch does not take: the loop meets it at its row
        return one_by_one()
    out = _Out(n)
    overlay = {c: h for c in plan.loop_customers if (h := log.histories.get(c)) is not None}
    kept = set(log.states)
    try:
        _loop(plan.loop, cols, log, overlay, out, run)
    except Exception:  # fail (or answer) at the reference's row: all of it, one by one
        for key in set(log.states) - kept:
            del log.states[key]
        return one_by_one()
    log.histories.update(overlay)
    log.histories.update(plan.histories)
    for key, state in plan.states.items():
        log.states.setdefault(key, state)
    allowed, rules, connected, ts_us, skipped = out.arrays()
    b = plan.batch
    allowed[b] = plan.allowed[b]
    connected[b] = plan.connected[b]
    ts_us[b] = plan.ts_us[b]
    skipped[b] = plan.skipped[b]
    for i, rule in plan.rules.items():
        rules[i] = rule
    return allowed, rules, connected, ts_us, skipped


class _Columns:
    """The day's proposals as Python lists (indexing numpy per element is slow), made
    when the loop first needs them: on most dates the batch takes every customer."""

    __slots__ = ("_arrays", "acc", "ch", "cust", "dpd", "hold", "minute", "phone", "reminder",
                 "retry", "rpc", "template", "third", "tz", "u")

    def __init__(self, props: Proposals, cust_p: np.ndarray, tz: np.ndarray,
                 phone: np.ndarray, dpd: np.ndarray, hold: np.ndarray,
                 connect_u: np.ndarray, rpc_by_hour: np.ndarray) -> None:
        self._arrays: tuple[Any, ...] | None = (props, cust_p, tz, phone, dpd, hold, connect_u,
                                                rpc_by_hour)

    def fill(self) -> None:
        """Make the lists (once)."""
        if self._arrays is None:
            return
        props, cust_p, tz, phone, dpd, hold, connect_u, rpc_by_hour = self._arrays
        self.acc = props.account.tolist()
        self.ch = props.channel.tolist()
        self.minute = props.minute.tolist()
        self.reminder = props.reminder.tolist()
        self.retry = props.retry.tolist()
        self.template = props.template.tolist()
        self.third = props.party.tolist()
        self.u = connect_u.tolist()
        self.rpc = rpc_by_hour.tolist()
        self.cust = cust_p.tolist()
        self.tz, self.phone, self.dpd, self.hold = (tz.tolist(), phone.tolist(), dpd.tolist(),
                                                    hold.tolist())
        self._arrays = None


class _Out:
    """The answers, filled by position."""

    __slots__ = ("allowed", "connected", "rules", "skipped", "ts")

    def __init__(self, n: int) -> None:
        self.allowed = [False] * n
        self.connected = [False] * n
        self.ts = [0] * n
        self.skipped = [False] * n
        self.rules: list[str | None] = [None] * n

    def arrays(self) -> tuple[np.ndarray, list[str | None], np.ndarray, np.ndarray, np.ndarray]:
        return (np.array(self.allowed, bool), self.rules, np.array(self.connected, bool),
                np.array(self.ts, np.int64), np.array(self.skipped, bool))


@dataclass(frozen=True)
class _Run:
    """What the loop needs besides the columns: the date and the profile's reading."""

    d: date
    templates: dict[str, str]
    robot_factor: float
    history_free: dict[tuple[str, str], bool]
    call_rules: tuple[CallRules, CallRules]


def _loop(order: list[int], cols: _Columns, log: ContactLog, histories: dict[int, History],
          out: _Out, run: _Run) -> None:
    """Gate ``order``'s proposals one by one into ``out``, extending ``histories``."""
    cols.fill()
    acc_l, ch_l, min_l, rem_l = cols.acc, cols.ch, cols.minute, cols.reminder
    retry_l, tpl_l, third_l, u_l, rpc = cols.retry, cols.template, cols.third, cols.u, cols.rpc
    c_l, tz_l, phone_l, dpd_l, hold_l = cols.cust, cols.tz, cols.phone, cols.dpd, cols.hold
    allowed, connected, ts_list, skipped, rules = (out.allowed, out.connected, out.ts,
                                                   out.skipped, out.rules)
    d, templates, robot_factor = run.d, run.templates, run.robot_factor
    history_free, call_rules = run.history_free, run.call_rules
    profile = log.profile
    reached: set[int] = set()
    states: dict[tuple[str, bool], CustomerState] = {}
    instants: dict[tuple[str, int], tuple[datetime, int]] = {}
    texts: dict[tuple[str | None, int], str | None] = {}
    protos: dict[tuple[str, int, int, int, str | None], Prototype[ProposedContact]] = {}
    events: dict[tuple[str, int, int, int, bool], Prototype[ContactEvent]] = {}
    decided: dict[tuple[str, int, int, int, str | None, bool], tuple[bool, str | None]] = {}
    bases: dict[tuple[str, int, int, int, bool], tuple[tuple[bool, str | None], int]] = {}
    lowers: dict[tuple[int, int, str, int], int] = {}
    empty = History()
    for i in order:
        a = acc_l[i]
        ch = ch_l[i]
        if retry_l[i] and a in reached:
            skipped[i] = True
            continue
        c = c_l[i]
        zname = str(tz_l[i])
        m = min_l[i]
        hit = instants.get((zname, m))
        if hit is None:
            ts0 = datetime(d.year, d.month, d.day, m // 60, m % 60, tzinfo=ZoneInfo(zname))
            hit = instants[zname, m] = (ts0, int(ts0.astimezone(UTC).timestamp()) * 1_000_000)
        ts, ts_list[i] = hit
        raw = phone_l[i]
        number = None if raw is None else str(raw)
        third = third_l[i]
        party = "third_party" if third else "debtor"
        msg = ch in (SMS, PUSH)
        cname = ("sms" if ch == SMS else "push") if msg else "voice"
        text = None
        if msg:
            tkey = (tpl_l[i], 0 if rem_l[i] else int(dpd_l[i]))
            text = texts.get(tkey)
            if text is None:
                text = texts[tkey] = render(templates, tkey[0], d, tkey[1])
        pkey = (zname, m, ch, third, text)
        proto = protos.get(pkey)
        if proto is None:  # the real constructor validates and normalises everything
            proposed = (
                ProposedContact(ts, cname, party=party, number=number, template=text, opt_out=True)
                if msg else ProposedContact(ts, "voice", party=party, number=number,
                                            robot=ch == ROBOT))
            proto = protos[pkey] = Prototype(proposed)
            norm = proposed.number
        else:  # refuses a bad number as the constructor would
            proposed = None
            norm = normalised(cname, number)
        hv = bool(hold_l[i])
        state = states.get((zname, hv))
        if state is None:
            state = states[zname, hv] = log.state(zname, hv)
        hist = histories.get(c)
        dkey = (zname, m, ch, third, text, hv)
        verdict = None
        t = proto.obj.us
        in_order = hist is None or not hist.us or hist.us[-1] <= t
        reusable = history_free[cname, party] and not state.objected_numbers and in_order
        if reusable:
            verdict = decided.get(dkey)
        elif not msg and in_order and not state.objected_numbers and call_rules[third].exact:
            # the checker's answer on an empty history, then its history rules counted
            calls = call_rules[third]
            bkey = (zname, m, ch, third, hv)
            base = bases.get(bkey)
            if base is None:
                if proposed is None:
                    proposed = proto.with_number(norm)
                decision = check(proposed, state, empty, profile)
                base = bases[bkey] = ((True, None), len(calls.position)) if decision.allowed else (
                    (False, decision.rule_id), calls.position.get(decision.rule_id, -1))
            verdict, stop = base
            if hist is not None and stop > 0:
                for k, rule in calls.counted:
                    if k >= stop:
                        break
                    lkey = (k, third, zname, m)
                    lower = lowers.get(lkey)
                    if lower is None:
                        local = proto.obj.ts.astimezone(state.tz)
                        lower = lowers[lkey] = (rule._bounds(t, local, state)[0]
                                                if type(rule) is _Cap else t - rule.span)
                    if _blocks(rule, lower, hist, norm):
                        verdict = (False, rule.id)
                        break
        if verdict is None:
            if proposed is None:
                proposed = proto.with_number(norm)
            decision = check(proposed, state, hist if hist is not None else empty, profile)
            verdict = (True, None) if decision.allowed else (
                False, getattr(decision, "rule_id", "blocked"))
            if reusable:
                decided[dkey] = verdict
        if not verdict[0]:
            rules[i] = verdict[1]
            continue
        allowed[i] = True
        ok = False
        if not msg:
            ok = u_l[i] < rpc[m // 60] * (robot_factor if ch == ROBOT else 1.0)
            connected[i] = ok
            if ok:
                reached.add(a)
        ekey = (zname, m, ch, third, ok)
        ev = events.get(ekey)
        if ev is None:
            event = made_event(ts, cname, party, number, ok, ch == ROBOT)
            events[ekey] = Prototype(event)
        else:
            event = ev.with_number(norm)
        histories[c] = hist.added(event) if hist is not None else History([event])

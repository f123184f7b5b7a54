"""The contact gate's fast path: the same answers as the one-by-one gate, for less work.

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
from dataclasses import fields
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

import numpy as np

from creditdesk.collections.gate import PUSH, ROBOT, SMS, ContactLog, _gate_reference, render
from creditdesk.collections.proposals import Proposals
from creditdesk.compliance import ContactEvent, CustomerState, ProposedContact, check
from creditdesk.compliance.checker import _plans
from creditdesk.compliance.history import History
from creditdesk.compliance.model import _address
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

_T = TypeVar("_T", ProposedContact, ContactEvent)


def fast_path_applies(profile: Profile) -> bool:
    """Whether :func:`gate_fast` answers exactly as the reference under ``profile``."""
    if any(r.kind not in _NUMBER_BLIND for r in profile.rules):
        return False
    return all({f.name for f in fields(cls) if not f.init} == derived
               for cls, derived in _DERIVED.items())




class _CallRules:
    """The timed rules the checker runs on a call to one party, in its order.

    ``position`` maps a timed rule's id to its place; ``counted`` lists the places and
    evaluators of the rules that read the history (caps and waits), which
    :func:`_blocks` evaluates on the history's memo. ``exact`` is false when a rule
    that reads the history is of a class :func:`_blocks` does not know: then every call
    to that party goes through the checker.
    """

    __slots__ = ("counted", "exact", "position")

    def __init__(self, profile: Profile, party: str) -> None:
        timed = _plans(profile)["voice", party].timed
        self.position = {r.id: k for k, r in enumerate(timed)}
        self.counted: list[tuple[int, _Cap | _Wait]] = [
            (k, r) for k, r in enumerate(timed) if isinstance(r, _Cap | _Wait)]
        self.exact = all(isinstance(r, _Cap | _Wait) or not r.uses_history for r in timed)


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


@lru_cache(maxsize=1 << 17)
def _normalised(channel: str, number: str | None) -> str | None:
    """The model's own check and normalisation of a number, memoised across dates.

    Pure, so a memo is safe; a bad number raises and is not memoised, so it raises
    again every time, as the constructor would. The same customers' numbers come back
    every day, and normalising one costs about as much as the rest of its contact.
    """
    return _address(channel, number, "number")


class _Prototype(Generic[_T]):
    """A constructor-built contact or event, and its copies with other numbers.

    A copy sets each slot through the slot's own setter (the frozen class refuses
    ``setattr``), from values read once here: every field but the number is the
    prototype's, which is what the constructor would compute from the same arguments.
    """

    __slots__ = ("cls", "fill", "obj", "put_number")

    def __init__(self, obj: _T) -> None:
        cls = type(obj)
        self.obj: _T = obj
        self.cls: type[_T] = cls
        self.fill = [(cls.__dict__[name].__set__, getattr(obj, name))
                     for name in cls.__slots__ if name != "number"]
        self.put_number = cls.__dict__["number"].__set__

    def with_number(self, number: str | None) -> _T:
        """The prototype with ``number`` (normalised): what the constructor would build."""
        if self.obj.number == number:
            return self.obj
        new = object.__new__(self.cls)
        for put, value in self.fill:
            put(new, value)
        self.put_number(new, number)
        return new


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
    allowed = [False] * n
    connected = [False] * n
    ts_list = [0] * n
    skipped = [False] * n
    reached: set[int] = set()
    rules: list[str | None] = [None] * n
    order = np.lexsort((props.account, props.minute)).tolist()
    acc_l = props.account.tolist()
    ch_l = props.channel.tolist()
    min_l = props.minute.tolist()
    rem_l = props.reminder.tolist()
    retry_l = props.retry.tolist()
    tpl_l = props.template.tolist()
    third_l = props.party.tolist()
    u_l = connect_u.tolist()
    rpc = rpc_by_hour.tolist()
    try:  # each proposal's customer, zone, phone and hold, read once for all
        cust_p = customer[props.account]
        c_l = cust_p.tolist()
        tz_l = tz[props.account].tolist()
        phone_l = phone[props.account].tolist()
        dpd_l = dpd[props.account].tolist()
        hold_l = hold[cust_p].tolist()
    except IndexError:  # the reference fails at the same row, after the same work
        return _gate_reference(props, d, customer, tz, phone, hold, dpd, log, connect_u,
                               rpc_by_hour, robot_factor, templates)
    if cust_p.dtype.kind not in "iu":  # int() of a float index; the reference handles it
        return _gate_reference(props, d, customer, tz, phone, hold, dpd, log, connect_u,
                               rpc_by_hour, robot_factor, templates)
    profile = log.profile
    states: dict[tuple[str, bool], CustomerState] = {}
    histories = log.histories
    history_free = {(ch, party): not any(r.kind in _HISTORY_KINDS and r.applies(ch, party)
                                         for r in profile.rules)
                    for ch in ("sms", "push", "voice") for party in ("debtor", "third_party")}
    instants: dict[tuple[str, int], tuple[datetime, int]] = {}
    texts: dict[tuple[str | None, int], str | None] = {}
    protos: dict[tuple[str, int, int, int, str | None], _Prototype[ProposedContact]] = {}
    events: dict[tuple[str, int, int, int, bool], _Prototype[ContactEvent]] = {}
    decided: dict[tuple[str, int, int, int, str | None, bool], tuple[bool, str | None]] = {}
    call_rules = (_CallRules(profile, "debtor"), _CallRules(profile, "third_party"))
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
            proto = protos[pkey] = _Prototype(proposed)
            norm = proposed.number
        else:  # refuses a bad number as the constructor would
            proposed = None
            norm = _normalised(cname, number)
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
            event = (ContactEvent(ts, cname, party=party, number=number) if msg else
                     ContactEvent(ts, "voice", party=party, number=number, connected=ok,
                                  conversation=ok, robot=ch == ROBOT))
            events[ekey] = _Prototype(event)
        else:
            event = ev.with_number(norm)
        histories[c] = hist.added(event) if hist is not None else History([event])
    return (np.array(allowed, bool), rules, np.array(connected, bool),
            np.array(ts_list, np.int64), np.array(skipped, bool))

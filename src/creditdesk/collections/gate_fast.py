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
* Every other contact is checked one by one by the real checker, with its history.

Around that, each proposal's customer, zone, phone and hold are read from the arrays
once, by fancy indexing (an index out of range, or a customer array that is not of
integers, hands the call to the reference, which fails or converts at the same row
as before), and a number's normalisation is memoised across dates.

A profile with a rule kind not listed here, or a model whose derived fields changed,
runs the reference instead (:func:`fast_path_applies`); the property test
``tests/unit/test_gate_fast.py`` compares both paths on varied days.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

import numpy as np

from creditdesk.collections.gate import PUSH, ROBOT, SMS, ContactLog, _gate_reference, render
from creditdesk.collections.proposals import Proposals
from creditdesk.compliance import ContactEvent, CustomerState, ProposedContact, check
from creditdesk.compliance.history import History
from creditdesk.compliance.model import _address
from creditdesk.compliance.profiles import Profile

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
        reusable = (history_free[cname, party] and not state.objected_numbers
                    and (hist is None or not hist.us or hist.us[-1] <= proto.obj.us))
        if reusable:
            verdict = decided.get(dkey)
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

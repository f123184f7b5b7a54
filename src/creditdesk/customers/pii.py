"""Customers' names, phone numbers and ID numbers: stored apart, masked by default, revealed
only with a reason, and every reveal audited.

``customer_pii`` (customer_id, name, phone, id_number) sits beside the books, not in
them: the books, the risk models and the reports never need it, so a copy of the books
(an extract for a model, a test fixture) carries no personal data. Masks follow what
Chinese lenders and banks show on screens and statements (PIPL; JR/T 0171-2020
"Personal financial information protection technical specification"): a mobile number
keeps its first three and last four digits (``139****5678``), a resident ID number its
first four and last four characters (the birth date in the middle is hidden), a name
its first character (the surname of a Chinese name). Shorter numbers show at most
their last four digits, and anything shorter than eight is masked entirely.

The console never asks :func:`customer_contact` for clear values: it calls
:func:`reveal_pii`, which checks the role, wants a reason, and writes an audit row
(action ``reveal_pii``, detail ``{field, reason}``) before answering. Machine paths (the
dialer, the robot's SMS) may call ``customer_contact(..., reveal=True)``; they are not
people looking at a screen. An agent may reveal only their own cases' data: the web
route checks the case first (:func:`creditdesk.web.deps.check_case_access`).

>>> mask_phone("+8613912345678"), mask_id_number("110105194912310021"), mask_name("张三")
('+86 139****5678', '1101**********0021', '张*')
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import polars as pl

from creditdesk.errors import BadInputError, NotFoundError

if TYPE_CHECKING:
    from creditdesk.web.users import User

__all__ = ["PII_FIELDS", "PII_SCHEMA", "PII_TABLE", "customer_contact", "ensure_pii_table",
           "mask_id_number", "mask_name", "mask_phone", "reveal_pii", "upsert_pii"]

PII_TABLE = "customer_pii"
PII_FIELDS: tuple[str, ...] = ("name", "phone", "id_number")
PII_SCHEMA: dict[str, Any] = {"customer_id": pl.String, "name": pl.String,
                              "phone": pl.String, "id_number": pl.String}
_MAX_REASON = 500
_CHUNK = 1000

#: ITU-T E.164 country codes are prefix-free: 1 and 7 have one digit, these two, and
#: every other code three
_CC1 = frozenset("17")
_CC2 = frozenset({
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
    "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
    "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
})
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")


def _country_code(digits: str) -> str:
    if digits[:1] in _CC1:
        return digits[:1]
    if digits[:2] in _CC2:
        return digits[:2]
    return digits[:3]


def _mask_middle(chars: str, head: int, tail: int = 4) -> str:
    """Keep ``head`` leading and ``tail`` trailing characters when enough remain hidden."""
    n = len(chars)
    if n >= head + tail + 4:
        return chars[:head] + "*" * (n - head - tail) + chars[n - tail:]
    if n >= 8:
        return "*" * (n - tail) + chars[n - tail:]
    return "*" * n


def mask_phone(phone: str) -> str:
    """A phone number with the middle hidden: country code, first 3 and last 4 digits kept.

    Separators are dropped; a national number under 11 digits keeps its last 4 only,
    under 8 digits nothing.

    >>> mask_phone("+8613912345678")
    '+86 139****5678'
    >>> mask_phone("139 1234 5678")
    '139****5678'
    >>> mask_phone("+1 (415) 555-0134")
    '+1 ******0134'
    >>> mask_phone("+44 20 7946 0958")
    '+44 ******0958'
    >>> mask_phone("12345"), mask_phone("")
    ('*****', '')
    """
    text = phone.strip()
    if not text:
        return ""
    digits = re.sub(r"\D", "", text)
    international = text.startswith("+") or text.startswith("00")
    if text.startswith("00"):
        digits = digits[2:]
    if not digits:
        return "*" * min(len(text), 11)
    if international and len(digits) > 4:
        cc = _country_code(digits)
        return f"+{cc} {_mask_middle(digits[len(cc):], 3)}"
    return _mask_middle(digits, 3)


def mask_id_number(id_number: str) -> str:
    """An ID number with the middle hidden: first 4 and last 4 characters kept.

    A Chinese resident ID (18 characters) shows its region prefix and last four, so the
    birth date is hidden; shorter numbers (a US SSN) show the last 4 only, and under 8
    characters nothing. Separators are dropped.

    >>> mask_id_number("110105194912310021")
    '1101**********0021'
    >>> mask_id_number("11010519491231002X")
    '1101**********002X'
    >>> mask_id_number("123-45-6789")
    '*****6789'
    >>> mask_id_number("A12345")
    '******'
    """
    return _mask_middle(_NOT_ALNUM.sub("", id_number.strip()), 4) if id_number.strip() else ""


def mask_name(name: str) -> str:
    """A name with each word's first character kept (the surname of a Chinese name).

    >>> mask_name("张三"), mask_name("欧阳娜娜"), mask_name("John Smith"), mask_name("张")
    ('张*', '欧***', 'J*** S****', '*')
    """
    words = name.split()
    return " ".join(w[0] + "*" * (len(w) - 1) if len(w) > 1 else "*" for w in words)


_MASKS = {"name": mask_name, "phone": mask_phone, "id_number": mask_id_number}


def ensure_pii_table(store: Any) -> None:
    """Create ``customer_pii`` if missing (customer_id is the primary key)."""
    store.ensure_tables({PII_TABLE: PII_SCHEMA}, keys={PII_TABLE: ("customer_id",)})


def upsert_pii(store: Any, df: pl.DataFrame) -> int:
    """Insert or replace customers' contact data; returns the rows written.

    ``df`` has ``customer_id`` and any of ``name``, ``phone``, ``id_number``; a column
    left out keeps the value on file (so a phone-number refresh leaves names alone).
    Values are stripped of surrounding spaces. One transaction: all rows or none.

    >>> import tempfile
    >>> from creditdesk.store import open_store
    >>> with tempfile.TemporaryDirectory() as d:
    ...     store = open_store(f"duckdb:///{d}/b.duckdb"); ensure_pii_table(store)
    ...     upsert_pii(store, pl.DataFrame({"customer_id": ["C1"], "name": ["张三"],
    ...                                     "phone": ["+8613912345678"]}))
    ...     upsert_pii(store, pl.DataFrame({"customer_id": ["C1"], "phone": ["+8613800000000"]}))
    ...     customer_contact(store, "C1")["name"], customer_contact(store, "C1")["phone"]
    1
    1
    ('张*', '+86 138****0000')
    """
    unknown = [c for c in df.columns if c not in PII_SCHEMA]
    if unknown:
        raise BadInputError(f"customer_pii has no column {unknown[0]!r}; columns are "
                            f"{', '.join(PII_SCHEMA)}", field=unknown[0])
    if "customer_id" not in df.columns:
        raise BadInputError("customer_pii rows need a customer_id column", field="customer_id")
    if df.height == 0:
        return 0
    given = [c for c in PII_FIELDS if c in df.columns]
    frame = df.select([pl.col(c).cast(pl.String).str.strip_chars() for c in
                       ("customer_id", *given)])
    ids = frame.get_column("customer_id")
    bad = (ids.is_null() | (ids == "")).arg_true()
    if bad.len():
        raise BadInputError(f"customer_id must not be empty; row {int(bad[0])} has none",
                            row=int(bad[0]), field="customer_id", value=ids[int(bad[0])])
    dup = ids.filter(ids.is_duplicated())
    if dup.len():
        raise BadInputError(f"customer_id {dup[0]!r} appears more than once", field="customer_id",
                            value=dup[0])
    with store.transaction():
        on_file = store.query(f"SELECT {', '.join(PII_SCHEMA)} FROM {PII_TABLE}")
        old = on_file.filter(pl.col("customer_id").is_in(ids.implode()))
        missing = [c for c in PII_FIELDS if c not in given]
        frame = frame.join(old.select("customer_id", *missing), on="customer_id", how="left") \
            if missing and old.height else frame.with_columns(
                [pl.lit(None, pl.String).alias(c) for c in missing])
        frame = frame.select([pl.col(c).cast(pl.String) for c in PII_SCHEMA])
        olds = old.get_column("customer_id").to_list()
        for i in range(0, len(olds), _CHUNK):
            part = olds[i:i + _CHUNK]
            store.execute(f"DELETE FROM {PII_TABLE} WHERE customer_id IN "
                          f"({', '.join('?' for _ in part)})", part)
        store.insert(PII_TABLE, frame)
    return frame.height


def _row(store: Any, customer_id: str) -> dict[str, Any] | None:
    if hasattr(store, "has_table") and not store.has_table(PII_TABLE):
        return None
    rows = store.execute(f"SELECT name, phone, id_number FROM {PII_TABLE} WHERE customer_id = ?",
                         [customer_id])
    return dict(zip(PII_FIELDS, rows[0], strict=True)) if rows else None


def customer_contact(store: Any, customer_id: str, *, reveal: bool = False) -> dict[str, Any]:
    """A customer's name, phone and ID number, masked unless ``reveal`` (machine paths only;
    people use :func:`reveal_pii`). A customer with nothing on file gets None values and
    ``on_file`` False, not an error: the case file still shows.

    >>> import tempfile
    >>> from creditdesk.store import open_store
    >>> with tempfile.TemporaryDirectory() as d:
    ...     store = open_store(f"duckdb:///{d}/b.duckdb"); ensure_pii_table(store)
    ...     c = customer_contact(store, "C404")
    >>> c["phone"], c["masked"], c["on_file"]
    (None, True, False)
    """
    row = _row(store, customer_id)
    out: dict[str, Any] = {"customer_id": customer_id}
    for f in PII_FIELDS:
        value = None if row is None else row[f]
        out[f] = value if reveal or value is None else _MASKS[f](str(value))
    out["masked"] = not reveal
    out["on_file"] = row is not None
    return out


def reveal_pii(store: Any, user: User, customer_id: str, field: str, reason: str,
               client: str | None) -> str:
    """The clear value of one field, for a user whose role may reveal, with a reason.

    Writes the audit row (``reveal_pii``, detail ``{field, reason}``) before answering.
    Raises ``BadInputError`` for an unknown field or an empty reason, ``ForbiddenError``
    for a role without ``reveal_pii``, ``NotFoundError`` when nothing is on file. The
    caller checks that the user may see this customer's case (agents: own cases).

    >>> import tempfile
    >>> from creditdesk.store import open_store
    >>> from creditdesk.web.security import User, ensure_web_tables, read_audit
    >>> with tempfile.TemporaryDirectory() as d:
    ...     store = open_store(f"duckdb:///{d}/b.duckdb"); ensure_web_tables(store)
    ...     ensure_pii_table(store)
    ...     _ = upsert_pii(store, pl.DataFrame({"customer_id": ["C1"], "phone": ["+8613912345678"]}))
    ...     reveal_pii(store, User("ann", "supervisor"), "C1", "phone", "call back", "10.0.0.7")
    ...     read_audit(store)[0]["detail"]
    '+8613912345678'
    {'field': 'phone', 'reason': 'call back'}
    """
    from creditdesk.web.audit import audit
    from creditdesk.web.errors import ForbiddenError

    if field not in PII_FIELDS:
        raise BadInputError(f"field must be one of {', '.join(PII_FIELDS)}; got {field!r}",
                            field="field", value=field)
    why = (reason or "").strip()
    if not why:
        raise BadInputError("reason is required to reveal personal data (it goes to the "
                            "audit log); got an empty one", field="reason", value=reason)
    if len(why) > _MAX_REASON:
        raise BadInputError(f"reason must be at most {_MAX_REASON} characters; got {len(why)}",
                            field="reason", value=why[:40] + "...")
    if not user.can("reveal_pii"):
        raise ForbiddenError(f"role {user.role!r} may not reveal personal data")
    row = _row(store, customer_id)
    if row is None:
        raise NotFoundError(f"customer_id {customer_id!r} has no contact data on file")
    audit(store, user, "reveal_pii", "customer", customer_id, {"field": field, "reason": why},
          client)
    value = row[field]
    return "" if value is None else str(value)

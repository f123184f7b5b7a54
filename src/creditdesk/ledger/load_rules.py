"""The rules a load's rows pass, from a file's text or typed: pure, no store.

:mod:`creditdesk.ledger.ingest` reads what the rules need from the books, calls them
and writes what they accept; the typed path (:mod:`creditdesk.ledger.post_typed`)
calls the same ones, so a batch is accepted or refused alike either way. Each rule
reports the file's row (1-based), the field and the value as text; the first
``MAX_ERRORS`` problems are reported together, first row first (docs/ingestion.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import available_timezones

import polars as pl

from creditdesk.errors import BadInputError, ClosedDateError
from creditdesk.ledger.schema import TABLES
from creditdesk.ledger.steps import scaled_rate
from creditdesk.products.catalogue import CashLoanProduct, Catalogue

__all__ = ["ARRANGEMENT_TYPES", "MAX_ERRORS", "REQUIRED", "TXN_TYPES", "ArrangementFacts",
           "check_transactions", "parse_text", "validate_accounts", "validate_customers",
           "validate_transactions"]

REQUIRED = {
    "customers": ("customer_id", "timezone"),
    "accounts": ("account_id", "customer_id", "product", "credit_limit", "opened"),
    "transactions": ("external_id", "account_id", "business_date", "type", "amount"),
}
ARRANGEMENT_TYPES = ("hardship_plan", "payment_holiday", "settlement")
TXN_TYPES = ("purchase", "repayment", "refund", "cash_loan", "instalment_conversion",
             *ARRANGEMENT_TYPES)
MAX_ERRORS = 10


class _Errors:
    """The problems found in one file, reported together, first row first."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.items: list[tuple[int, str, str, object, type[BadInputError]]] = []

    def flag(self, df: pl.DataFrame, bad: pl.Expr, field: str, rule: str,
             error: type[BadInputError] = BadInputError) -> None:
        self.check(df, [(bad, field, rule, error)])

    def check(self, df: pl.DataFrame,
              rules: list[tuple[pl.Expr, str, str, type[BadInputError]]]) -> None:
        """Flag the rows each ``(bad, field, rule, error)`` finds, in the order given.

        Whether any row breaks a rule is asked of every rule in one pass (the usual
        case: nothing to report); the rows are looked up only for a rule broken.
        The value is reported as the loader reads it, as text, whether the frame
        came from a file or typed (:mod:`creditdesk.ledger.post_typed`).
        """
        if not rules:
            return
        broken = df.select([bad.fill_null(True).any().alias(f"_{i}")
                            for i, (bad, *_) in enumerate(rules)]).row(0)
        for hit, (bad, field, rule, error) in zip(broken, rules, strict=True):
            if not hit:
                continue
            hits = df.with_row_index("_row").filter(bad.fill_null(True))
            for row, value in (hits.select("_row", pl.col(field).cast(pl.String))
                               .head(MAX_ERRORS).iter_rows()):
                self.items.append((int(row) + 1, field, rule, value, error))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        self.items.sort(key=lambda item: (item[0], item[1]))
        lines = [f"{self.table} row {r}: {f} must be {rule}; got {v!r}"
                 for r, f, rule, v, _ in self.items[:MAX_ERRORS]]
        more = len(self.items) - MAX_ERRORS
        msg = "\n".join(lines) + (f"\n... and {more} more" if more > 0 else "")
        r, f, _, v, cls = self.items[0]
        raise cls(msg, row=r, field=f, value=v)


def _require(df: pl.DataFrame, table: str) -> pl.DataFrame:
    missing = [c for c in REQUIRED[table] if c not in df.columns]
    if missing:
        raise BadInputError(f"{table}: required column(s) missing: {', '.join(missing)}",
                            field=missing[0], value=None)
    unknown = [c for c in df.columns if c not in TABLES[table] or c in ("txn_id", "load_id",
                                                                         "source_row")]
    if unknown:
        raise BadInputError(f"{table}: unknown column(s): {', '.join(unknown)} "
                            f"(see docs/ingestion.md)", field=unknown[0], value=None)
    for c in TABLES[table]:
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, pl.String).alias(c))
    return df.with_columns([pl.col(c).str.strip_chars() for c in df.columns])


def _int(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Int64, strict=False)


def _date(col: str) -> pl.Expr:
    return pl.col(col).str.strptime(pl.Date, "%Y-%m-%d", strict=False)


def _check_ids(df: pl.DataFrame, errs: _Errors, key: str) -> None:
    errs.flag(df, pl.col(key).is_null() | (pl.col(key) == ""), key, "a non-empty id")
    errs.flag(df, pl.col(key).is_duplicated(), key, "unique within the file")


def validate_customers(df: pl.DataFrame) -> pl.DataFrame:
    errs = _Errors("customers")
    df = _require(df, "customers")
    _check_ids(df, errs, "customer_id")
    zones = sorted(available_timezones())
    errs.flag(df, ~pl.col("timezone").is_in(zones), "timezone", "an IANA time zone")
    for c in ("city_tier", "birth_year"):
        errs.flag(df, pl.col(c).is_not_null() & _int(c).is_null(), c, "an integer")
    for c in ("consent_voice", "consent_sms", "consent_push", "consent_email"):
        errs.flag(df, pl.col(c).is_not_null()
                  & ~pl.col(c).str.to_lowercase().is_in(["true", "false", "1", "0"]),
                  c, "true or false")
    errs.raise_if_any()
    consents = ("consent_voice", "consent_sms", "consent_push", "consent_email")
    typed = df.with_columns(
        *[_int(c).cast(pl.Int32) for c in ("city_tier", "birth_year")],
        *[pl.when(pl.col(c).is_null()).then(True)
          .otherwise(pl.col(c).str.to_lowercase().is_in(["true", "1"])).alias(c)
          for c in consents],
        pl.col("language").fill_null("zh"))
    return typed.select([pl.col(c).cast(t) for c, t in TABLES["customers"].items()])


def validate_accounts(df: pl.DataFrame, catalogue: Catalogue, known_customers: pl.Series
                      ) -> pl.DataFrame:
    errs = _Errors("accounts")
    df = _require(df, "accounts")
    _check_ids(df, errs, "account_id")
    errs.flag(df, ~pl.col("customer_id").is_in(known_customers.implode()), "customer_id",
              "a customer in the books or in this load")
    errs.flag(df, ~pl.col("product").is_in(list(catalogue.products)), "product",
              f"a product of the catalogue ({', '.join(catalogue.products)})")
    errs.flag(df, _int("credit_limit").is_null() | (_int("credit_limit") <= 0), "credit_limit",
              "a positive integer of minor units")
    errs.flag(df, _date("opened").is_null(), "opened", "a date YYYY-MM-DD")
    for c in ("bill_day", "due_day"):
        errs.flag(df, pl.col(c).is_not_null() & ~_int(c).is_between(1, 28), c,
                  "an integer from 1 to 28")
    errs.flag(df, pl.col("daily_rate").is_not_null()
              & pl.col("daily_rate").map_elements(lambda s: scaled_rate(s) is None,
                                                  return_dtype=pl.Boolean),
              "daily_rate", "a decimal string such as 0.0005")
    errs.raise_if_any()
    typed = df.with_columns(_int("credit_limit"), _date("opened"),
                            _int("bill_day").cast(pl.Int32), _int("due_day").cast(pl.Int32))
    return typed.select([pl.col(c).cast(t) for c, t in TABLES["accounts"].items()])


@dataclass(frozen=True)
class ArrangementFacts:
    """What the books say about the accounts of a file's arrangement rows.

    ``status``: ``account_id, status, past_due`` at the last closed date, where
    ``past_due`` is what is past due on the next date (every open due item with
    a due date up to the last closed date); ``loaded``: arrangements already
    loaded for dates not yet closed (``account_id, business_date, external_id``).
    """

    last_closed: date | None
    status: pl.DataFrame
    loaded: pl.DataFrame


def validate_transactions(df: pl.DataFrame, catalogue: Catalogue, accounts: pl.DataFrame,
                          last_closed: date | None, exposure: pl.DataFrame,
                          pending: pl.DataFrame, facts: ArrangementFacts | None = None
                          ) -> pl.DataFrame:
    """Typed transactions from text columns, or BadInputError naming the rows.

    ``exposure``: per account, principal owed at the last closed date
    (``account_id, exposure``); ``pending``: debits already loaded for dates
    not yet closed (``account_id, business_date, pending``); ``facts``: for
    the arrangement rows (:func:`arrangement_facts`).
    """
    return check_transactions(parse_text(df), catalogue, accounts, last_closed, exposure,
                              pending, facts)


def parse_text(df: pl.DataFrame) -> pl.DataFrame:
    """Text transactions with the parsed columns :func:`check_transactions` reads.

    ``_amount``, ``_bd`` and ``_terms`` are null where the text does not parse;
    the text columns stay, trimmed, so that an error shows the value as given.

    >>> parse_text(pl.DataFrame({"external_id": ["e1"], "account_id": ["R1"],
    ...     "business_date": ["2026-01-05"], "type": ["purchase"], "amount": ["12.5"]}
    ...     )).select("_amount", "_bd").row(0)
    (None, datetime.date(2026, 1, 5))
    """
    df = _require(df, "transactions")
    return df.with_columns(_int("amount").alias("_amount"), _date("business_date").alias("_bd"),
                           _int("terms").alias("_terms"))


def check_transactions(df: pl.DataFrame, catalogue: Catalogue, accounts: pl.DataFrame,
                       last_closed: date | None, exposure: pl.DataFrame,
                       pending: pl.DataFrame, facts: ArrangementFacts | None = None
                       ) -> pl.DataFrame:
    """The rules every transaction passes, from a file or typed; the rows to store.

    ``df`` has every column of the table but the three the loader assigns
    (``txn_id``, ``source_row``, ``load_id``), and the parsed ``_amount``
    (Int64), ``_bd`` (Date) and ``_terms`` (Int64): :func:`parse_text` makes
    them from a file's text, :func:`creditdesk.ledger.post_typed.parse_typed`
    from typed columns. ``accounts`` needs ``account_id, product, opened,
    credit_limit`` of (at least) the accounts the rows name. One set of rules
    serves both, so a typed batch and its text are accepted or refused alike,
    with the same message. The other arguments: see :func:`validate_transactions`.
    """
    errs = _Errors("transactions")
    holiday = pl.col("type") == "payment_holiday"
    rules: list[tuple[pl.Expr, str, str, type[BadInputError]]] = [
        (pl.col("external_id").is_null() | (pl.col("external_id") == ""),
         "external_id", "a non-empty id", BadInputError),
        (pl.col("external_id").is_duplicated(), "external_id", "unique within the file",
         BadInputError),
        (~pl.col("type").is_in(list(TXN_TYPES)), "type", f"one of {', '.join(TXN_TYPES)}",
         BadInputError),
        (~holiday & (pl.col("_amount").is_null() | (pl.col("_amount") <= 0)), "amount",
         "a positive integer of minor units", BadInputError),
        (holiday & pl.col("amount").is_not_null() & (pl.col("_amount") != 0).fill_null(True),
         "amount", "empty or 0 for a payment_holiday", BadInputError),
        (pl.col("_bd").is_null(), "business_date", "a date YYYY-MM-DD", BadInputError)]
    if last_closed is not None:
        rules.append((pl.col("_bd") <= last_closed, "business_date",
                      f"after the last closed date {last_closed}", ClosedDateError))
    errs.check(df, rules)
    kinds = pl.DataFrame({"product": list(catalogue.products),
                          "kind": [p.kind for p in catalogue.products.values()]})
    acc = accounts.join(kinds, on="product", how="left").select(
        "account_id", "product", "kind", "opened", "credit_limit")
    j = df.join(acc, on="account_id", how="left", maintain_order="left")
    known = pl.col("kind").is_not_null()
    needs_rev = pl.col("type").is_in(["purchase", "refund", "instalment_conversion"])
    is_loan = pl.col("type") == "cash_loan"
    is_conv = pl.col("type") == "instalment_conversion"
    errs.check(j, [
        (~known, "account_id", "an account in the books or this load", BadInputError),
        (known & (pl.col("_bd") < pl.col("opened")), "business_date",
         "on or after the account's opening date", BadInputError),
        (known & needs_rev & (pl.col("kind") != "revolving"), "type",
         "allowed by the account's product (revolving only)", BadInputError),
        (known & is_loan & (pl.col("kind") != "cash_loan"), "type",
         "allowed by the account's product (cash_loan only)", BadInputError),
        ((is_loan | is_conv) & (pl.col("_terms").is_null() | (pl.col("_terms") <= 0)),
         "terms", "a positive integer (needed by cash_loan and instalment_conversion)",
         BadInputError),
        (is_loan & pl.col("method").is_null(), "method",
         "given for a cash_loan (equal_instalment, equal_principal or interest_first)",
         BadInputError)])
    errs.flag(j, pl.col("daily_rate").is_not_null()
              & pl.col("daily_rate").map_elements(lambda s: scaled_rate(s) is None,
                                                  return_dtype=pl.Boolean),
              "daily_rate", "a decimal string such as 0.0004")
    _check_arrangements(j, errs, facts)
    errs.raise_if_any()
    # what each product allows (a few products: one vectorised check per product)
    terms = pl.col("_terms")
    product_rules: list[tuple[pl.Expr, str, str, type[BadInputError]]] = []
    for name, prod in catalogue.products.items():
        mine = pl.col("product") == name
        if isinstance(prod, CashLoanProduct):
            product_rules += [
                (mine & is_loan & ~terms.is_in(list(prod.terms)), "terms",
                 f"one of {list(prod.terms)} for product {name}", BadInputError),
                (mine & is_loan & ~pl.col("method").is_in(list(prod.methods)), "method",
                 f"one of {list(prod.methods)} for product {name}", BadInputError)]
        else:
            fees = sorted(prod.instalment_fee_rates)
            product_rules.append((mine & is_conv & ~terms.is_in(fees), "terms",
                                  f"one of {fees} for product {name}", BadInputError))
    errs.check(j, product_rules)
    errs.raise_if_any()
    # credit limit: principal owed at the last closed date + the same date's debits
    # (already loaded, then in file order) must stay within the limit. Repayments
    # free the limit once posted by end of day, so later dates are judged then.
    debit = pl.col("type").is_in(["purchase", "cash_loan"])
    lim = (j.with_row_index("_i")
           .join(exposure, on="account_id", how="left")
           .join(pending, left_on=["account_id", "_bd"], right_on=["account_id", "business_date"],
                 how="left")
           .with_columns(pl.when(debit).then(pl.col("_amount")).otherwise(0).alias("_d"))
           .with_columns(pl.col("_d").cum_sum().over("account_id", "_bd", order_by="_i")
                         .alias("_cum")))
    errs.flag(lim.sort("_i"), debit & (pl.col("exposure").fill_null(0)
                                        + pl.col("pending").fill_null(0) + pl.col("_cum")
                                        > pl.col("credit_limit")),
              "amount", "within the available credit limit")
    errs.raise_if_any()
    typed = df.with_columns(pl.when(holiday).then(pl.col("_amount").fill_null(0))
                            .otherwise(pl.col("_amount")).alias("amount"),
                            pl.col("_bd").alias("business_date"),
                            pl.col("_terms").cast(pl.Int32).alias("terms")).drop(
        "_amount", "_bd", "_terms")
    return typed


def _check_arrangements(j: pl.DataFrame, errs: _Errors, facts: ArrangementFacts | None
                        ) -> None:
    """Hardship plans, payment holidays and settlements (docs/ledger.md).

    What the file alone shows is checked always; what depends on the books
    (the account's status, the past-due total a hardship plan must equal) only
    for the next date to close, whose starting state is the last closed one.
    End of day checks the rest and rejects what does not fit then.
    """
    typ = pl.col("type")
    arrangement = typ.is_in(list(ARRANGEMENT_TYPES))
    if not j.select(arrangement.any()).item():
        return
    hs, hol = typ == "hardship_plan", typ == "payment_holiday"
    errs.flag(j, hs & ~pl.col("_terms").is_between(3, 12).fill_null(False), "terms",
              "an integer from 3 to 12 for a hardship_plan")
    errs.flag(j, hol & ~pl.col("_terms").is_between(1, 3).fill_null(False), "terms",
              "an integer from 1 to 3 (months) for a payment_holiday")
    errs.flag(j, arrangement & pl.col("daily_rate").is_not_null(), "daily_rate",
              "empty for hardship_plan, payment_holiday and settlement (a hardship plan bears "
              "no interest)")
    first = pl.col("_i") == pl.col("_i").first().over(arrangement, "account_id", "_bd")
    errs.flag(j.with_row_index("_i"), arrangement & ~first, "type",
              "the only hardship_plan, payment_holiday or settlement of its account and date "
              "in the file")
    if facts is None:
        return
    rows = (j.with_row_index("_row").filter(arrangement)
            .join(facts.loaded.rename({"external_id": "_loaded"}),
                  left_on=["account_id", "_bd"], right_on=["account_id", "business_date"],
                  how="left")
            .filter(pl.col("_loaded").is_null() | (pl.col("_loaded") != pl.col("external_id")))
            .join(facts.status, on="account_id", how="left"))
    nxt = (None if facts.last_closed is None
           else date.fromordinal(facts.last_closed.toordinal() + 1))
    for r in rows.iter_rows(named=True):
        row, kind = int(r["_row"]) + 1, r["type"]
        if r["_loaded"] is not None:
            errs.items.append((row, "type", f"the only arrangement of account {r['account_id']} "
                               f"on {r['_bd']} (external_id {r['_loaded']!r} is already loaded)",
                               kind, BadInputError))
            continue
        if r["_bd"] != nxt or r["status"] is None:
            continue
        closed = r["status"] in ("charged_off", "settled") and not (
            kind == "settlement" and r["status"] == "charged_off")
        if closed:
            errs.items.append((row, "account_id", f"an account open on {facts.last_closed} "
                               f"(it is {r['status']})", r["account_id"], BadInputError))
        elif kind == "hardship_plan" and r["_amount"] != r["past_due"]:
            due = r["past_due"] or 0
            rule = (f"the past-due total on {nxt}, {due}" if due else
                    f"the past-due total on {nxt}, but nothing is past due on account "
                    f"{r['account_id']}")
            errs.items.append((row, "amount", rule, r["_amount"], BadInputError))

"""The typed posting path (ledger/post_typed.py) against the text loader, on DuckDB books.

Every rule the text loader applies to transactions is broken once here, typed and as
text: both must refuse the batch with the same error (class, row, field, value, message)
and leave the books as they were. A Hypothesis property draws random batches, valid
and not, and asks the same of both paths, or the same stored rows.
"""

from __future__ import annotations

import shutil
from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from book_rows import THREE_ACCT, THREE_CUST, THREE_TXNS, text
from creditdesk.errors import BadInputError, ClosedDateError
from creditdesk.ledger import ingest
from creditdesk.ledger.eod import run_eod
from creditdesk.ledger.ingest import load_frames
from creditdesk.ledger.params import ledger_params
from creditdesk.ledger.post_typed import parse_typed, post_typed
from creditdesk.products import default_catalogue
from creditdesk.store import open_store

CAT = default_catalogue()
LAST = date(2026, 4, 20)
NEXT = date(2026, 4, 21)
TYPED = {"external_id": pl.String, "account_id": pl.String, "business_date": pl.Date,
         "type": pl.String, "amount": pl.Int64, "terms": pl.Int32, "method": pl.String,
         "daily_rate": pl.String}
BOOKS = ("transactions", "account_day", "journal", "dues", "closed_dates", "accounts")


def typed(rows: list[dict]) -> pl.DataFrame:
    """Rows as a program holds them: each column of its contract type."""
    cols = [c for c in TYPED if any(c in r for r in rows)]
    return pl.DataFrame({c: [r.get(c) for r in rows] for c in cols},
                        schema={c: TYPED[c] for c in cols})


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """R1 and R2 revolving (R2 past due, nothing repaid), L1 a cash loan; closed to LAST."""
    path = tmp_path_factory.mktemp("typed") / "base.duckdb"
    s = open_store(f"duckdb:///{path}")
    cust, acct = THREE_CUST, THREE_ACCT
    txns = [*THREE_TXNS,
            *[{"external_id": f"r{m}", "account_id": "R1", "business_date": f"2026-0{m}-08",
               "type": "repayment", "amount": 60_000} for m in (2, 3)]]
    load_frames(s, CAT, customers=text(cust), accounts=text(acct), transactions=text(txns))
    run_eod(s, LAST, ledger_params(CAT))
    s.close()
    return path


@pytest.fixture
def store(base, tmp_path):
    path = tmp_path / "books.duckdb"
    shutil.copy(base, path)
    s = open_store(f"duckdb:///{path}")
    yield s
    s.close()


def snapshot(store) -> dict[str, pl.DataFrame]:
    return {t: store.read(t) for t in BOOKS}


def outcome(store, post) -> tuple[object, ...]:
    """What a posting did: the error (class, row, field, value, message) or the rows."""
    try:
        report = post()
    except BadInputError as exc:
        return (type(exc), exc.row, exc.field, exc.value, str(exc))
    rows = store.read("transactions").sort("txn_id")
    return (report, rows.rows())


def both_refuse(store, rows: list[dict]) -> tuple[object, ...]:
    """Post ``rows`` as text and typed; both must fail alike and leave the books as they were."""
    before = snapshot(store)
    as_text = outcome(store, lambda: load_frames(store, CAT, transactions=text(rows)))
    assert isinstance(as_text[0], type) and issubclass(as_text[0], BadInputError), as_text
    assert all(before[t].equals(v) for t, v in snapshot(store).items())
    as_typed = outcome(store, lambda: post_typed(store, CAT, typed(rows)))
    assert as_typed == as_text
    assert all(before[t].equals(v) for t, v in snapshot(store).items())
    return as_typed


GOOD = {"external_id": "n1", "account_id": "R1", "business_date": NEXT, "type": "purchase",
        "amount": 1_000}


@pytest.mark.parametrize("row, field, words, cls", [
    ({"external_id": ""}, "external_id", "a non-empty id", BadInputError),
    ({"external_id": None}, "external_id", "a non-empty id", BadInputError),
    ({"type": "gift"}, "type", "one of purchase", BadInputError),
    ({"amount": 0}, "amount", "a positive integer", BadInputError),
    ({"amount": -5}, "amount", "a positive integer", BadInputError),
    ({"amount": None}, "amount", "a positive integer", BadInputError),
    ({"type": "payment_holiday", "terms": 1, "amount": 5}, "amount", "empty or 0",
     BadInputError),
    ({"business_date": None}, "business_date", "a date YYYY-MM-DD", BadInputError),
    ({"business_date": LAST}, "business_date", "after the last closed date", ClosedDateError),
    ({"account_id": "NOPE"}, "account_id", "an account in the books", BadInputError),
    ({"account_id": "L1"}, "type", "revolving only", BadInputError),
    ({"type": "cash_loan", "terms": 12, "method": "equal_instalment"}, "type",
     "cash_loan only", BadInputError),
    ({"account_id": "L1", "type": "cash_loan", "method": "equal_instalment"}, "terms",
     "a positive integer (needed by", BadInputError),
    ({"account_id": "L1", "type": "cash_loan", "terms": 12}, "method", "given for a cash_loan",
     BadInputError),
    ({"account_id": "L1", "type": "cash_loan", "terms": 5, "method": "equal_instalment"},
     "terms", "for product cash_loan", BadInputError),
    ({"account_id": "L1", "type": "cash_loan", "terms": 12, "method": "balloon"}, "method",
     "for product cash_loan", BadInputError),
    ({"type": "instalment_conversion", "terms": 5}, "terms", "for product revolving",
     BadInputError),
    ({"daily_rate": "cheap"}, "daily_rate", "a decimal string", BadInputError),
    ({"amount": 499_950}, "amount", "within the available credit limit", BadInputError),
    ({"type": "hardship_plan", "terms": 2, "business_date": date(2026, 4, 22)}, "terms",
     "from 3 to 12", BadInputError),
    ({"type": "payment_holiday", "amount": None, "terms": 4}, "terms", "from 1 to 3",
     BadInputError),
    ({"type": "settlement", "daily_rate": "0.0001"}, "daily_rate", "empty for hardship_plan",
     BadInputError),
    ({"type": "hardship_plan", "terms": 6, "amount": 1}, "amount", "the past-due total",
     BadInputError),
])
def test_each_rule_refuses_alike_typed_and_as_text(store, row, field, words, cls):
    first = dict(GOOD, external_id="n0", amount=100)
    exc_cls, r, f, _value, message = both_refuse(store, [first, dict(GOOD) | row])
    assert (exc_cls, r, f) == (cls, 2, field)
    assert words in message and f"row 2: {field}" in message


def test_an_external_id_twice_in_a_batch_is_refused_alike(store):
    _, r, f, value, message = both_refuse(store, [GOOD, dict(GOOD, amount=5)])
    assert (r, f, value) == (1, "external_id", "n1") and "unique within the file" in message


def test_two_arrangements_of_one_account_and_date_are_refused_alike(store):
    holiday = {"type": "payment_holiday", "account_id": "R2", "terms": 1, "amount": None}
    _, r, f, value, message = both_refuse(store, [dict(GOOD, external_id="a1") | holiday,
                                                  dict(GOOD, external_id="a2") | holiday])
    assert (r, f, value) == (2, "type", "payment_holiday") and "the only" in message


def test_before_the_opening_date_is_refused_alike(tmp_path):
    s = open_store(f"duckdb:///{tmp_path}/fresh.duckdb")
    load_frames(s, CAT, customers=text([{"customer_id": "C1", "timezone": "Asia/Shanghai"}]),
                accounts=text([{"account_id": "R1", "customer_id": "C1",
                                "product": "revolving", "credit_limit": 500_000,
                                "opened": "2026-01-05"}]))
    _, r, f, value, message = both_refuse(s, [dict(GOOD, business_date=date(2026, 1, 4))])
    assert (r, f, value) == (1, "business_date", "2026-01-04")
    assert "on or after the account's opening date" in message
    s.close()


def test_an_external_id_loaded_with_other_values_is_refused_alike(store):
    post_typed(store, CAT, typed([GOOD]))
    _, r, f, value, message = both_refuse(store, [dict(GOOD, amount=99)])
    assert (r, f, value) == (1, "external_id", "n1") and "different values" in message


def test_missing_and_unknown_columns_are_refused_alike(store):
    for frame in (typed([GOOD]).drop("amount"), typed([GOOD]).with_columns(txn_id=pl.lit(1))):
        as_text = outcome(store, lambda f=frame: load_frames(store, CAT,
                                                             transactions=ingest.as_text(f)))
        assert outcome(store, lambda f=frame: post_typed(store, CAT, f)) == as_text
        assert as_text[0] is BadInputError


@pytest.mark.parametrize("column, values, words", [
    ("amount", [12.5], "column amount must be Int64; got Float64"),
    ("business_date", ["2026-04-21"], "column business_date must be Date; got String"),
    ("account_id", [1], "column account_id must be String; got Int64"),
    ("terms", pl.Series([2**40], dtype=pl.Int64), "row 1: terms must be an integer that fits"),
    ("amount", pl.Series([2**64 - 1], dtype=pl.UInt64), "amount must be an integer that fits"),
])
def test_a_column_of_the_wrong_type_is_refused_naming_it(store, column, values, words):
    frame = typed([GOOD]).with_columns(pl.Series(column, values))
    before = snapshot(store)
    with pytest.raises(BadInputError, match=words) as err:
        post_typed(store, CAT, frame)
    assert err.value.field == column
    assert all(before[t].equals(v) for t, v in snapshot(store).items())


def test_typed_columns_of_narrower_types_post_the_same_rows(store, base, tmp_path):
    frame = typed([GOOD, dict(GOOD, external_id="n2", type="repayment", amount=7)])
    narrow = frame.with_columns(pl.col("amount").cast(pl.UInt16),
                                pl.col("type").cast(pl.Categorical))
    post_typed(store, CAT, narrow, load_id="x")
    shutil.copy(base, tmp_path / "other.duckdb")
    other = open_store(f"duckdb:///{tmp_path}/other.duckdb")
    load_frames(other, CAT, transactions=text(frame.to_dicts()), load_id="x")
    assert store.read("transactions").equals(other.read("transactions"))
    other.close()


def test_posting_the_same_external_ids_twice_posts_nothing_twice(store):
    rows = [GOOD, dict(GOOD, external_id="n2", type="repayment", amount=500)]
    first = post_typed(store, CAT, typed(rows), load_id="a")
    again = post_typed(store, CAT, typed(rows), load_id="b")
    by_text = load_frames(store, CAT, transactions=text(rows), load_id="c")
    assert (first.transactions, first.duplicates_skipped) == (2, 0)
    assert (again.transactions, again.duplicates_skipped) == (0, 2)
    assert (by_text.transactions, by_text.duplicates_skipped) == (0, 2)
    posted = store.read("transactions").filter(pl.col("external_id").is_in(["n1", "n2"]))
    assert posted.height == 2 and set(posted["load_id"]) == {"a"}


def test_a_pending_debit_of_the_same_date_counts_against_the_limit(store):
    post_typed(store, CAT, typed([dict(GOOD, amount=300_000)]))
    _, r, f, _, message = both_refuse(store, [dict(GOOD, external_id="n2", amount=250_000)])
    assert (r, f) == (1, "amount") and "within the available credit limit" in message


@pytest.mark.parametrize("few", [0, 256])
def test_large_and_small_batches_read_the_accounts_alike(store, monkeypatch, few):
    # a batch naming more than FEW_ACCOUNTS accounts reads every account's columns
    monkeypatch.setattr(ingest, "FEW_ACCOUNTS", few)
    both_refuse(store, [GOOD, dict(GOOD, external_id="n2", amount=499_500)])
    report = post_typed(store, CAT, typed([GOOD, dict(GOOD, external_id="n2",
                                                      account_id="R2", amount=5)]))
    assert report.transactions == 2


# ---- the property: any batch, typed or as text, gives the same books or the same error

VALUE = {
    "external_id": st.sampled_from(["e1", "e2", "e3", " e4", "", "p1", None]),
    "account_id": st.sampled_from(["R1", "R2", "L1", "NOPE", " R1", None]),
    "business_date": st.sampled_from([NEXT, NEXT, date(2026, 4, 22), LAST, date(2026, 1, 1),
                                      None]),
    "type": st.sampled_from(["purchase", "repayment", "refund", "cash_loan",
                             "instalment_conversion", "hardship_plan", "payment_holiday",
                             "settlement", "gift", None]),
    "amount": st.one_of(st.integers(-5, 600_000), st.sampled_from([0, 1, 100_000, None])),
    "terms": st.sampled_from([None, None, 1, 3, 6, 12, 5, 0]),
    "method": st.sampled_from([None, None, "equal_instalment", "interest_first", "balloon",
                               ""]),
    "daily_rate": st.sampled_from([None, None, None, "0.0004", "x"]),
}
ROW = st.fixed_dictionaries({k: VALUE[k] for k in ("external_id", "account_id",
                                                     "business_date", "type", "amount")},
                            optional={k: VALUE[k] for k in ("terms", "method", "daily_rate")})

#: rows that mostly pass, so that accepted batches are compared too
LIKELY = st.fixed_dictionaries({
    "external_id": st.sampled_from(["e1", "e2", "e3", "e4", "e5"]),
    "account_id": st.sampled_from(["R1", "R2"]),
    "business_date": st.sampled_from([NEXT, date(2026, 4, 22)]),
    "type": st.sampled_from(["purchase", "repayment", "refund"]),
    "amount": st.integers(1, 300_000)})


class _Undo(Exception):
    """Raised to roll a trial posting back."""


def trial(store, post) -> tuple[object, ...]:
    """The outcome of a posting, then the books as they were (the transaction rolls back)."""
    result: tuple[object, ...] = ()
    try:
        with store.transaction():
            result = outcome(store, post)
            raise _Undo
    except _Undo:
        pass
    return result


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.one_of(ROW, LIKELY), min_size=1, max_size=5))
def test_typed_and_text_paths_agree_on_any_batch(store, rows):
    as_text = trial(store, lambda: load_frames(store, CAT, transactions=text(rows),
                                               load_id="L"))
    as_typed = trial(store, lambda: post_typed(store, CAT, typed(rows), load_id="L"))
    event("accepted" if isinstance(as_text[0], ingest.LoadReport) else "refused")
    assert as_typed == as_text


def test_parse_typed_trims_text_as_a_file_is_read():
    out = parse_typed(typed([dict(GOOD, external_id=" n1 ", account_id="R1 ")]))
    assert out.select("external_id", "account_id").row(0) == ("n1", "R1")

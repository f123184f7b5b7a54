"""``risk.refresh``: score every performing account on the books after end of day.

``refresh_scores(store, model_dir, as_of)`` reads the books through the Store
API (``account_day`` for the 181 dates ending at ``as_of``, bills due in that
window, plans, account openings), builds the behaviour features
(``creditdesk.risk.behaviour``), scores them with a model folder trained on
those features (``risk train --model gbm`` or ``scorecard``; the manifest is
verified by ``load_model``) and writes ``behaviour_scores``
(``as_of, account_id, pd, score, band``) in one transaction, replacing any
earlier run for the same ``as_of`` — run it once a month (e.g. after the
month-end close) and the table holds one score per account per month.

Accounts charged off or already at 60+ DPD on ``as_of`` are not scored: they
are the outcome the model predicts.

``behaviour_scores`` is not part of the ledger's schema module: it is created
here with the store's own SQL (``CREATE TABLE IF NOT EXISTS``) and written
with parameterised ``INSERT`` statements through ``store.scalar`` (the
store's ``append`` accepts only the ledger's tables), so only the DuckDB
store is supported; ``write=False`` returns the frame on any store.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from creditdesk.errors import BadInputError
from creditdesk.risk.artifact import ModelBundle, load_model
from creditdesk.risk.behaviour import FEATURES, behaviour_features, performing
from creditdesk.risk.data import coerce_features
from creditdesk.risk.policy import Policy, decide, default_policy
from creditdesk.risk.scoring import predict_pd_score
from creditdesk.store.base import Store

__all__ = ["LOOKBACK_DAYS", "SCORES_DDL", "SCORES_TABLE", "read_books", "refresh_scores",
           "score_accounts"]

SCORES_TABLE = "behaviour_scores"
SCORES_DDL = (f"CREATE TABLE IF NOT EXISTS {SCORES_TABLE} (as_of DATE NOT NULL, "
              "account_id VARCHAR NOT NULL, pd DOUBLE NOT NULL, score INTEGER NOT NULL, "
              "band VARCHAR NOT NULL, PRIMARY KEY (as_of, account_id))")
#: account_day dates read before as_of: the 180-day window plus the day before it
LOOKBACK_DAYS = 181
_INSERT_ROWS = 1000

_SCHEMA = {"as_of": pl.Date, "account_id": pl.String, "pd": pl.Float64, "score": pl.Int32,
           "band": pl.String}


def read_books(store: Store, as_of: date) -> dict[str, pl.DataFrame]:
    """What the features of ``as_of`` need, and no more, read from the store."""
    start = as_of - timedelta(days=LOOKBACK_DAYS)
    return {
        "account_day": store.read("account_day", "business_date >= ? AND business_date <= ?",
                                  [start, as_of]),
        "statements": store.read("statements", "bill_date >= ? AND due_date <= ?",
                                 [start, as_of]),
        "plans": store.read("plans", "business_date <= ?", [as_of]),
        "accounts": store.read("accounts", "opened <= ?", [as_of]),
    }


def score_accounts(bundle: ModelBundle, features: pl.DataFrame,
                   policy: Policy | None = None) -> pl.DataFrame:
    """``as_of, account_id, pd, score, band`` for the performing rows of ``features``."""
    rows = features.filter(performing())
    if rows.height == 0:
        return pl.DataFrame(schema=_SCHEMA)
    X = coerce_features(rows.select(FEATURES).to_pandas(), bundle.schema)
    pd_, score = predict_pd_score(bundle, X)
    band = decide(policy or default_policy(), pd_)["risk_band"].to_numpy()
    return rows.select("as_of", "account_id").with_columns(
        pl.Series("pd", np.asarray(pd_, dtype=float)),
        pl.Series("score", np.rint(np.asarray(score, dtype=float)).astype(np.int32)),
        pl.Series("band", band.astype(str)),
    ).cast(_SCHEMA)  # type: ignore[arg-type]


def _write(store: Store, scores: pl.DataFrame, as_of: date) -> None:
    from creditdesk.store.duckdb_store import DuckDBStore

    if not isinstance(store, DuckDBStore):
        raise BadInputError(f"{SCORES_TABLE} can be written to a DuckDB store only; use "
                            "write=False to get the scores", field="store")
    with store.transaction():
        store.scalar(SCORES_DDL)
        store.scalar(f"DELETE FROM {SCORES_TABLE} WHERE as_of = ?", [as_of])
        for chunk in scores.iter_slices(_INSERT_ROWS):
            values = ", ".join(["(?, ?, ?, ?, ?)"] * chunk.height)
            params = [v for row in chunk.select(list(_SCHEMA)).iter_rows() for v in row]
            store.scalar(f"INSERT INTO {SCORES_TABLE} VALUES {values}", params)


def refresh_scores(store: Store, model_dir: str | Path, as_of: date, *,
                   policy: Policy | None = None, write: bool = True) -> pl.DataFrame:
    """Score the books as of ``as_of`` (a closed date) and store the scores; returns them."""
    last = store.last_closed()
    if last is None or as_of > last:
        raise BadInputError(f"as_of must be a closed business date (last closed: {last}); "
                            f"got {as_of}", field="as_of", value=as_of)
    bundle = load_model(model_dir)
    books = read_books(store, as_of)
    features = behaviour_features(books["account_day"], books["statements"], books["plans"],
                                  as_of, opened=books["accounts"].select("account_id", "opened"))
    scores = score_accounts(bundle, features, policy)
    if write:
        _write(store, scores, as_of)
    return scores

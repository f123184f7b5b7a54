"""``risk.refresh``: score every performing account on the books after end of day.

``refresh_scores(store, model_dir, as_of)`` builds the behaviour features in the
store's own engine (``creditdesk.risk.features_sql``: Ibis expressions compiled
to DuckDB or Spark SQL, one row per account comes back), scores them with a
model folder trained on those features (``risk train --model gbm`` or
``scorecard``; the manifest is verified by ``load_model``; the package ships one,
``BEHAVIOUR_MODEL``) and writes ``behaviour_scores`` (``as_of, account_id, pd,
score, band``) in bulk, replacing any earlier run for the same ``as_of``.

``refresh_after_close(store, model_dir, closed_date)`` is the daily cycle's hook:
called after every end of day, it scores on the last calendar day of a month and
returns None on the other dates, so the table holds one score per account per
month.

Accounts charged off or already at 60+ DPD on ``as_of`` are not scored: they
are the outcome the model predicts.

``behaviour_scores`` is not part of the ledger's schema module. On DuckDB it is
created here (``CREATE TABLE IF NOT EXISTS``) and filled by registering the
scores as an Arrow table and one ``INSERT ... SELECT``, after deleting the
month, in one transaction (nested in the caller's, e.g. the twin's date). On
the Spark lake the month is a Parquet folder ``behaviour_scores/as_of=<date>/``
written beside and swapped in by renames. ``read_scores`` reads either.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from creditdesk.errors import BadInputError
from creditdesk.risk.artifact import ModelBundle, load_model
from creditdesk.risk.behaviour import FEATURES, performing
from creditdesk.risk.data import coerce_features
from creditdesk.risk.features_sql import LOOKBACK_DAYS, features_from_store
from creditdesk.risk.policy import Policy, decide, default_policy
from creditdesk.risk.scoring import predict_pd_score
from creditdesk.store.base import Store

__all__ = ["BEHAVIOUR_MODEL", "LOOKBACK_DAYS", "SCORES_DDL", "SCORES_TABLE", "is_month_end",
           "read_books", "read_scores", "refresh_after_close", "refresh_scores",
           "score_accounts"]

SCORES_TABLE = "behaviour_scores"
SCORES_DDL = (f"CREATE TABLE IF NOT EXISTS {SCORES_TABLE} (as_of DATE NOT NULL, "
              "account_id VARCHAR NOT NULL, pd DOUBLE NOT NULL, score INTEGER NOT NULL, "
              "band VARCHAR NOT NULL, PRIMARY KEY (as_of, account_id))")
#: the behaviour model shipped in the package (trained on the digital twin's history)
BEHAVIOUR_MODEL = Path(__file__).parent / "models" / "behaviour"

_SCHEMA = {"as_of": pl.Date, "account_id": pl.String, "pd": pl.Float64, "score": pl.Int32,
           "band": pl.String}
_INCOMING = "_behaviour_scores_incoming"


def read_books(store: Store, as_of: date) -> dict[str, pl.DataFrame]:
    """The rows the Polars reference features of ``as_of`` read (accounts x dates in memory).

    ``refresh_scores`` no longer uses it (``features_sql`` runs in the store);
    it feeds ``behaviour.behaviour_features`` in the parity tests.
    """
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
    """Replace the month ``as_of`` of ``behaviour_scores`` by ``scores``, in bulk."""
    from creditdesk.store.duckdb_store import DuckDBStore

    if isinstance(store, DuckDBStore):
        arrow = scores.select(list(_SCHEMA)).to_arrow()
        with store.transaction():
            store.scalar(SCORES_DDL)
            store.scalar(f"DELETE FROM {SCORES_TABLE} WHERE as_of = ?", [as_of])
            store.con.register(_INCOMING, arrow)
            try:
                store.scalar(f"INSERT INTO {SCORES_TABLE} SELECT as_of, account_id, pd, score, "
                             f"band FROM {_INCOMING}")
            finally:
                store.con.unregister(_INCOMING)
        return
    from creditdesk.store.spark_store import SparkStore

    if not isinstance(store, SparkStore):
        raise BadInputError(f"{SCORES_TABLE} cannot be written to a {type(store).__name__}; "
                            "use write=False to get the scores", field="store")
    _write_lake(store.location / SCORES_TABLE, scores, as_of)


def _write_lake(root: Path, scores: pl.DataFrame, as_of: date) -> None:
    """The month as one Parquet folder ``as_of=<date>``, swapped in by renames."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"as_of={as_of.isoformat()}"
    tag = uuid.uuid4().hex[:8]
    tmp, old = root / f".new-{as_of.isoformat()}-{tag}", root / f".old-{as_of.isoformat()}-{tag}"
    tmp.mkdir()
    scores.drop("as_of").write_parquet(tmp / "part-0.parquet")
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def read_scores(store: Store, as_of: date | None = None) -> pl.DataFrame:
    """The stored behaviour scores (of one month with ``as_of``), on DuckDB or the lake."""
    from creditdesk.store.duckdb_store import DuckDBStore

    if isinstance(store, DuckDBStore):
        if not store.scalar("SELECT count(*) FROM information_schema.tables "
                            f"WHERE table_name = '{SCORES_TABLE}'"):
            return pl.DataFrame(schema=_SCHEMA)
        if as_of is None:
            return store.read(SCORES_TABLE).cast(_SCHEMA)  # type: ignore[arg-type]
        return store.read(SCORES_TABLE, "as_of = ?", [as_of]).cast(_SCHEMA)  # type: ignore[arg-type]
    parts = []
    for folder in sorted((store.location / SCORES_TABLE).glob("as_of=*")):
        month = date.fromisoformat(folder.name.removeprefix("as_of="))
        if as_of is None or month == as_of:
            parts.append(pl.read_parquet(folder / "*.parquet")
                         .with_columns(pl.lit(month).alias("as_of")))
    if not parts:
        return pl.DataFrame(schema=_SCHEMA)
    return pl.concat(parts).select(list(_SCHEMA)).cast(_SCHEMA)  # type: ignore[arg-type]


def refresh_scores(store: Store, model_dir: str | Path, as_of: date, *,
                   policy: Policy | None = None, write: bool = True) -> pl.DataFrame:
    """Score the books as of ``as_of`` (a closed date) and store the scores; returns them."""
    last = store.last_closed()
    if last is None or as_of > last:
        raise BadInputError(f"as_of must be a closed business date (last closed: {last}); "
                            f"got {as_of}", field="as_of", value=as_of)
    bundle = load_model(model_dir)
    features = features_from_store(store, as_of)
    scores = score_accounts(bundle, features, policy)
    if write:
        _write(store, scores, as_of)
    return scores


def is_month_end(d: date) -> bool:
    """The last calendar day of its month."""
    return (d + timedelta(days=1)).day == 1


def refresh_after_close(store: Store, model_dir: str | Path, closed_date: date, *,
                        policy: Policy | None = None) -> pl.DataFrame | None:
    """The daily cycle's hook after end of day: score and store at month ends, else None.

    On the last calendar day of a month it is ``refresh_scores(store, model_dir,
    closed_date)`` (``as_of, account_id, pd, score, band``, written to
    ``behaviour_scores``, replacing that month if run again); on any other date
    it reads and writes nothing.
    """
    if not is_month_end(closed_date):
        return None
    return refresh_scores(store, model_dir, closed_date, policy=policy)

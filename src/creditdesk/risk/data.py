"""Read a lender's table and decide, generically, what each column is.

The risk models must work on any lender's data, so nothing here knows a column
name. Roles are inferred from the data alone:

* numeric dtypes (ints, floats, booleans) are *numeric* features;
* string columns are *categorical*, unless nearly all their values parse as
  dates, in which case they become a *date* feature (days since 1970-01-01);
* a column that is unique per row and looks like a key (strings; integers when
  there are at least 200 rows, or packed into a range under ten times the
  rows) is an *id*: dropped as a feature, carried through when scoring;
* a column with a single value (or none) is *constant* and dropped;
* the target must hold 0 and 1 only (booleans accepted); anything else is
  refused naming the column and the offending values.

The inferred :class:`FeatureSchema` is stored with a model, so the exact same
treatment is applied when the model scores new data.

>>> import pandas as pd
>>> frame = pd.DataFrame({"id": range(100, 130), "income": [1.0, 2.0, None] * 10,
...                       "city": ["a", "b", None] * 10, "flag": 1, "bad": [0, 1] * 15})
>>> schema = infer_schema(frame, target="bad")
>>> schema.numeric, schema.categorical, schema.dropped
(['income'], ['city'], {'id': 'id-like (unique per row)', 'flag': 'constant'})
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from creditdesk.errors import BadInputError, NotFoundError

__all__ = [
    "LARGE_ROWS",
    "FeatureSchema",
    "coerce_features",
    "infer_schema",
    "read_table",
    "require_frame",
    "stratified_sample",
    "target_vector",
]

# Above this many rows a table is "large": the models make their fitting choices (bins,
# penalties, tree settings) on a sample of about this size or with large-table settings,
# and the training runner skips the default cross-validation (docs/risk.md, "Large tables").
LARGE_ROWS = 200_000

_DATE_SAMPLE = 500
_DATE_SHARE = 0.95
_EPOCH = pd.Timestamp("1970-01-01")


@dataclass
class FeatureSchema:
    """Which columns a model uses, and how each is read.

    ``numeric`` and ``categorical`` are the model's inputs in a fixed order
    (numeric first); ``dates`` is the subset of ``numeric`` that arrives as
    date strings and is converted to days since 1970. ``dropped`` records why
    the other columns were left out, so a report can say so.
    """

    target: str
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    time_col: str | None = None
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        """All model inputs, numeric first."""
        return [*self.numeric, *self.categorical]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (stored in the model's manifest)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSchema:
        """Rebuild from :meth:`to_dict`; unknown keys are refused."""
        try:
            return cls(**data)
        except TypeError as exc:
            raise BadInputError(f"feature schema is not valid: {exc}") from exc


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (UTF-8, a BOM tolerated) or Parquet file into a DataFrame.

    The format follows the suffix: ``.parquet``/``.pq`` is Parquet, anything
    else is read as CSV.
    """
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"data file not found: {p}")
    try:
        if p.suffix.lower() in {".parquet", ".pq"}:
            return pd.read_parquet(p)
        return pd.read_csv(p, encoding="utf-8-sig", low_memory=False)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read {p}: {exc}", field="data", value=str(p)) from exc


def target_vector(frame: pd.DataFrame, target: str) -> np.ndarray:
    """The target as an int8 0/1 array; refuses missing, non-binary or one-class targets."""
    if target not in frame.columns:
        raise BadInputError(
            f"target column {target!r} is not in the data; columns are "
            f"{', '.join(map(str, frame.columns[:30]))}", field="target", value=target)
    col = frame[target]
    if col.isna().any():
        n = int(col.isna().sum())
        raise BadInputError(f"target column {target!r} must be 0 or 1; got {n} missing values",
                            field=target, value=None)
    if col.dtype == bool:
        values = col.to_numpy().astype(np.int8)
    else:
        numeric = pd.to_numeric(col, errors="coerce")
        bad_mask = numeric.isna() | ~numeric.isin([0, 1])
        if bad_mask.any():
            bad = [v.item() if hasattr(v, "item") else v for v in pd.unique(col[bad_mask])[:5]]
            raise BadInputError(
                f"target column {target!r} must be 0 or 1; got {', '.join(map(repr, bad))}",
                field=target, value=bad[0])
        values = numeric.to_numpy().astype(np.int8)
    if values.min() == values.max():
        raise BadInputError(f"target column {target!r} must hold both 0 and 1; got only "
                            f"{int(values[0])}", field=target, value=int(values[0]))
    return values


def _is_string(col: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
                or pd.api.types.is_datetime64_any_dtype(col))


def _looks_like_dates(col: pd.Series) -> bool:
    values = col.dropna().astype(str)
    if values.nunique() < 12:
        return False
    sample = values.sample(min(len(values), _DATE_SAMPLE), random_state=0)
    if not sample.str.contains(r"\d", regex=True).all():
        return False
    if sample.str.fullmatch(r"[+-]?\d+(\.\d*)?").any():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= _DATE_SHARE)


def _looks_like_id(col: pd.Series) -> bool:
    n = len(col)
    if n < 20 or col.isna().any() or col.nunique() != n:
        return False
    if _is_string(col):
        return True
    if pd.api.types.is_integer_dtype(col):
        # a key: unique by construction. Integer amounts collide long before
        # a few hundred rows, unless they are packed into a narrow range.
        span = float(col.max()) - float(col.min()) + 1.0
        return n >= 200 or span <= 10.0 * n
    return False


def infer_schema(frame: pd.DataFrame, target: str, *, time_col: str | None = None,
                 drop: list[str] | tuple[str, ...] = ()) -> FeatureSchema:
    """Decide each column's role from its dtype, cardinality and values (never its name).

    ``time_col`` (used to split out-of-time) and ``drop`` are never features.
    """
    target_vector(frame, target)
    for name in [time_col, *drop]:
        if name is not None and name not in frame.columns:
            raise BadInputError(f"column {name!r} is not in the data", field=name, value=name)
    schema = FeatureSchema(target=target, time_col=time_col)
    for name in frame.columns:
        col = frame[name]
        key = str(name)
        if key in (target, time_col):
            continue
        if key in drop:
            schema.dropped[key] = "dropped on request"
        elif col.nunique(dropna=True) <= 1:
            schema.dropped[key] = "constant"
        elif pd.api.types.is_datetime64_any_dtype(col) or (
                _is_string(col) and _looks_like_dates(col)):
            schema.numeric.append(key)
            schema.dates.append(key)
        elif _looks_like_id(col):
            schema.dropped[key] = "id-like (unique per row)"
        elif _is_string(col):
            schema.categorical.append(key)
        else:
            schema.numeric.append(key)
    if not schema.features:
        raise BadInputError("no usable feature columns left after dropping ids and constants",
                            field="data")
    return schema


def _date_to_days(col: pd.Series) -> pd.Series:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(col, errors="coerce", format="mixed")
    return (parsed - _EPOCH).dt.days.astype("float64")


def time_values(frame: pd.DataFrame, time_col: str) -> pd.Series:
    """Parse the time column (dates or numbers) into sortable values; refuses unparsable ones."""
    col = frame[time_col]
    if pd.api.types.is_numeric_dtype(col):
        parsed = col.astype("float64")
    else:
        parsed = _date_to_days(col) if not pd.api.types.is_datetime64_any_dtype(col) else \
            (col - _EPOCH).dt.days.astype("float64")
    if parsed.isna().any():
        bad = col[parsed.isna()].iloc[0]
        raise BadInputError(f"time column {time_col!r} must hold dates or numbers; got {bad!r}",
                            field=time_col, value=bad)
    return parsed


def coerce_features(frame: pd.DataFrame, schema: FeatureSchema) -> pd.DataFrame:
    """Select the schema's features, in order, with the dtypes the models expect.

    Numeric columns become float64 (dates become days since 1970), categorical
    columns become Python strings with ``None`` for missing. A missing column
    is refused naming every absent column; a numeric column holding text is
    refused naming the column and a value.
    """
    missing = [c for c in schema.features if c not in frame.columns]
    if missing:
        raise BadInputError(f"the data lacks the model's columns: {', '.join(missing)}",
                            field=missing[0])
    out: dict[str, Any] = {}
    for name in schema.numeric:
        col = frame[name]
        if name in schema.dates:
            out[name] = (col - _EPOCH).dt.days.astype("float64") \
                if pd.api.types.is_datetime64_any_dtype(col) else _date_to_days(col)
            continue
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            out[name] = col.astype("float64")
            continue
        numeric = pd.to_numeric(col, errors="coerce")
        bad = col[numeric.isna() & col.notna()]
        if len(bad):
            raise BadInputError(f"column {name!r} must be numeric; got {bad.iloc[0]!r}",
                                field=name, value=bad.iloc[0])
        out[name] = numeric.astype("float64")
    for name in schema.categorical:
        col = frame[name]
        out[name] = col.astype(str).astype(object).where(col.notna(), None)
    return pd.DataFrame(out, index=frame.index)


def require_frame(X: Any, features: list[str]) -> pd.DataFrame:
    """``X`` as the DataFrame a fitted model scores, or an error naming what is wrong.

    >>> require_frame(pd.DataFrame({"a": [1]}), ["a"]).shape
    (1, 1)
    """
    if not isinstance(X, pd.DataFrame):
        raise BadInputError(f"X must be a pandas DataFrame; got {type(X).__name__}", field="X")
    missing = [f for f in features if f not in X.columns]
    if missing:
        raise BadInputError(f"X lacks the model's columns: {', '.join(missing)}",
                            field=missing[0])
    return X


def stratified_sample(y: Any, max_rows: int, random_state: int = 0) -> np.ndarray:
    """Sorted row positions of a stratified random sample of at most ``max_rows`` rows.

    All positions when there are no more rows than that. Each class keeps its share
    (rounded), so the sample's bad rate is the table's.

    >>> stratified_sample([0, 1] * 5, 4).tolist()
    [3, 6, 8, 9]
    >>> len(stratified_sample([0, 1, 0], 10))
    3
    """
    yy = np.asarray(y)
    n = len(yy)
    if n <= max_rows:
        return np.arange(n)
    rng = np.random.default_rng(random_state)
    picked = []
    for value in np.unique(yy):
        where = np.flatnonzero(yy == value)
        k = max(1, round(len(where) * max_rows / n))
        picked.append(rng.choice(where, size=min(k, len(where)), replace=False))
    return np.sort(np.concatenate(picked))

"""Public credit data sets shipped with creditdesk (CC BY 4.0, UCI).

Why ship them: tests, examples and benchmarks need real credit data that any
user can reproduce offline. Only these two UCI sets may be redistributed; see
``datasets/data/ATTRIBUTION.md`` for the full citations.

* :func:`taiwan_credit_default` — Yeh, I-C. and Lien, C-H. (2009), "The
  comparisons of data mining techniques for the predictive accuracy of
  probability of default of credit card clients", *Expert Systems with
  Applications* 36(2); UCI ML repository id 350; CC BY 4.0. 30,000 card
  holders, target ``class`` (1 = default next month, 22.1 %).
* :func:`german_credit` — Hofmann, H. (1994), Statlog (German Credit Data),
  UCI id 144, CC BY 4.0. 1,000 loans, target ``bad`` (1 = bad).

>>> frame = taiwan_credit_default()
>>> frame.shape, round(float(frame["class"].mean()), 3)
((30000, 25), 0.221)
>>> german_credit()["bad"].mean()
np.float64(0.3)
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

__all__ = ["dataset_path", "german_credit", "read_german_data", "taiwan_credit_default"]

GERMAN_COLUMNS = [
    "checking_status", "duration_months", "credit_history", "purpose", "credit_amount",
    "savings", "employment_since", "installment_rate", "personal_status_sex", "other_debtors",
    "residence_since", "property", "age", "other_installment_plans", "housing",
    "existing_credits", "job", "people_liable", "telephone", "foreign_worker",
]


def dataset_path(name: str) -> Path:
    """Path of a shipped file, e.g. ``dataset_path("taiwan_credit_default.csv.gz")``."""
    return Path(str(resources.files("creditdesk.datasets") / "data" / name))


def taiwan_credit_default() -> pd.DataFrame:
    """The Taiwan credit-card default data (Yeh & Lien 2009, UCI id 350, CC BY 4.0).

    Columns as published: ``ID``, ``LIMIT_BAL``, ``SEX``, ``EDUCATION``,
    ``MARRIAGE``, ``AGE``, repayment status ``PAY_0, PAY_2..PAY_6`` (-2 no use,
    -1 paid duly, 0 revolving, k = k months late), ``BILL_AMT1..6``,
    ``PAY_AMT1..6`` (1 = September 2005, 6 = April) and the target ``class``.
    """
    return pd.read_csv(dataset_path("taiwan_credit_default.csv.gz"))


def read_german_data(path: str | Path) -> pd.DataFrame:
    """Parse a ``german.data`` file (UCI format, space separated) into named columns.

    The last field (1 good, 2 bad) becomes ``bad`` = 1 for bad, 0 for good.
    Categorical attributes keep their UCI codes (``A11`` ...), described in
    ``german_credit.doc``.
    """
    frame = pd.read_csv(path, sep=r"\s+", header=None, names=[*GERMAN_COLUMNS, "class"],
                        dtype={c: str for c in GERMAN_COLUMNS if not c.endswith(
                            ("months", "amount", "rate", "since", "age", "credits", "liable"))})
    frame["bad"] = (frame.pop("class") == 2).astype("int64")
    return frame


def german_credit() -> pd.DataFrame:
    """The Statlog German credit data (Hofmann 1994, UCI id 144, CC BY 4.0)."""
    return read_german_data(dataset_path("german_credit.data.gz"))

"""creditdesk.risk: PD models (scorecard, LightGBM), validation, reason codes, monitoring,
limits and pricing — generic for any lender's tabular data.

The public API is re-exported here lazily, so ``import creditdesk`` (and every CLI
command) stays fast; the model libraries load on first use.

>>> from creditdesk.risk import ScoreScaling
>>> round(float(ScoreScaling().score_from_pd(1 / 51)))
600
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = [
    "FeatureSchema",
    "GBMModel",
    "ModelBundle",
    "Policy",
    "ScoreScaling",
    "ScorecardModel",
    "TrainOptions",
    "cutoff_analysis",
    "decide",
    "default_policy",
    "infer_schema",
    "load_model",
    "load_policy",
    "monitor_tables",
    "psi",
    "read_table",
    "save_model",
    "score_table",
    "train_model",
]

_WHERE = {
    "FeatureSchema": "data", "infer_schema": "data", "read_table": "data",
    "GBMModel": "gbm", "ScorecardModel": "scorecard", "ScoreScaling": "scorecard",
    "ModelBundle": "artifact", "load_model": "artifact", "save_model": "artifact",
    "Policy": "policy", "decide": "policy", "default_policy": "policy", "load_policy": "policy",
    "psi": "monitor", "TrainOptions": "train", "train_model": "train",
    "cutoff_analysis": "scoring", "monitor_tables": "scoring", "score_table": "scoring",
}

if TYPE_CHECKING:
    from creditdesk.risk.artifact import ModelBundle, load_model, save_model
    from creditdesk.risk.data import FeatureSchema, infer_schema, read_table
    from creditdesk.risk.gbm import GBMModel
    from creditdesk.risk.monitor import psi
    from creditdesk.risk.policy import Policy, decide, default_policy, load_policy
    from creditdesk.risk.scorecard import ScorecardModel, ScoreScaling
    from creditdesk.risk.scoring import cutoff_analysis, monitor_tables, score_table
    from creditdesk.risk.train import TrainOptions
    from creditdesk.risk.train import train as train_model


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        # ``train_model`` is ``train.train``: the function cannot share the name of its
        # module, which Python binds on the package once imported.
        attr = "train" if name == "train_model" else name
        return getattr(import_module(f"creditdesk.risk.{_WHERE[name]}"), attr)
    raise AttributeError(f"module 'creditdesk.risk' has no attribute {name!r}")

"""Path attributions (Saabas) for a LightGBM model, as an explicit alternative to SHAP.

Since exact SHAP is looked up from per-tree tables (:mod:`creditdesk.risk.treeshap`,
faster than this), these stay only as a named, approximate option. Why they were built:
exact TreeSHAP called row by row (LightGBM's ``pred_contrib``) costs
O(leaves x depth^2) per tree and row; on a 300-tree model it scores about a
thousand rows a second on one core, far from what bulk re-scoring of a book
needs. Saabas' path attribution (the method of ``treeinterpreter``) credits
each split on a row's path with the change in the node's expected output
from parent to child, so a tree's attribution depends only on the *leaf* a
row lands in. That makes it a table look-up: one table per tree of
``leaves x features``, precomputed once, and a row's attribution is the sum
of its leaves' rows — LightGBM's fast ``pred_leaf`` plus one sparse product.

It is an approximation of SHAP, not SHAP: it is exact in the sense that a
row's attributions plus the bias add up to its log-odds, but it credits
splits near the leaves more than TreeSHAP does. It is therefore only used
when asked for by name (``reason_method="saabas"``); the default stays exact
TreeSHAP. The tests check that the top reason agrees with exact SHAP on most
rows of the Taiwan data.

Node expected values are the count-weighted mean of the leaf outputs below
the node (the same training-row weighting TreeSHAP uses), so the bias equals
TreeSHAP's expected value and the attributions are additive exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

__all__ = ["PathTables", "path_tables"]

_CHUNK = 8192  # rows per sparse product


class PathTables:
    """Per-leaf attribution tables of a boosted model, stacked into one matrix.

    ``table`` has one row per leaf of every tree (tree ``t``'s leaves start at
    ``offsets[t]``) and one column per feature; ``bias`` is the sum of the
    trees' root expected values.
    """

    def __init__(self, table: np.ndarray, offsets: np.ndarray, bias: float) -> None:
        self.table = np.ascontiguousarray(table, dtype=np.float64)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.bias = float(bias)

    @property
    def n_trees(self) -> int:
        """Trees covered."""
        return len(self.offsets)

    def contributions(self, leaves: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
        """Attributions (rows x features) from LightGBM ``pred_leaf`` output (rows x trees).

        Done as (one-hot of the leaves, sparse) x (table, dense): scipy's CSR
        product runs in C, a row costs trees x features multiply-adds. Written
        into ``out`` when given (a float64 rows x features array).
        """
        leaves = np.asarray(leaves)
        n, t = leaves.shape
        if t != self.n_trees:
            raise ValueError(f"expected {self.n_trees} trees of leaves; got {t}")
        if out is None:
            out = np.empty((n, self.table.shape[1]))
        for lo in range(0, n, _CHUNK):  # the one-hot holds rows x trees entries: cache-sized
            hi = min(lo + _CHUNK, n)
            m = hi - lo
            cols = leaves[lo:hi].astype(np.int32, copy=True)
            cols += self.offsets.astype(np.int32)
            onehot = sparse.csr_matrix(
                (np.ones(m * t, dtype=np.float64), cols.ravel(),
                 np.arange(0, m * t + 1, t, dtype=np.int32 if m * t < 2**31 else np.int64)),
                shape=(m, self.table.shape[0]))
            out[lo:hi] = onehot @ self.table
        return out


def _walk(node: dict[str, Any], row: np.ndarray, out: dict[int, np.ndarray],
          values: dict[int, tuple[float, float]]) -> tuple[float, float]:
    """Fill ``out[leaf] = path attribution``; return (count-weighted value, count) of ``node``."""
    if "leaf_index" in node:
        return float(node["leaf_value"]), float(node.get("leaf_count", 0))
    left = node["left_child"]
    right = node["right_child"]
    lv, lc = _subtree_value(left, values)
    rv, rc = _subtree_value(right, values)
    total = lc + rc
    value = (lv * lc + rv * rc) / total if total > 0 else (lv + rv) / 2.0
    feature = int(node["split_feature"])
    for child, child_value in ((left, lv), (right, rv)):
        step = row.copy()
        step[feature] += child_value - value
        if "leaf_index" in child:
            out[int(child["leaf_index"])] = step
        else:
            _walk(child, step, out, values)
    return value, total


def _subtree_value(node: dict[str, Any], memo: dict[int, tuple[float, float]]
                   ) -> tuple[float, float]:
    key = id(node)
    if key not in memo:
        if "leaf_index" in node:
            memo[key] = (float(node["leaf_value"]), float(node.get("leaf_count", 0)))
        else:
            lv, lc = _subtree_value(node["left_child"], memo)
            rv, rc = _subtree_value(node["right_child"], memo)
            total = lc + rc
            memo[key] = ((lv * lc + rv * rc) / total if total > 0 else (lv + rv) / 2.0, total)
    return memo[key]


def path_tables(dump: dict[str, Any], n_trees: int | None = None) -> PathTables:
    """Build the tables from ``Booster.dump_model()`` (only the first ``n_trees`` trees)."""
    n_features = len(dump["feature_names"])
    trees = dump["tree_info"][:n_trees] if n_trees is not None else dump["tree_info"]
    blocks: list[np.ndarray] = []
    offsets: list[int] = []
    bias = 0.0
    start = 0
    for info in trees:
        root = info["tree_structure"]
        n_leaves = int(info["num_leaves"])
        block = np.zeros((n_leaves, n_features))
        if "leaf_index" in root or n_leaves <= 1:  # a single-leaf tree: all of it is bias
            bias += float(root.get("leaf_value", 0.0))
        else:
            memo: dict[int, tuple[float, float]] = {}
            found: dict[int, np.ndarray] = {}
            root_value, _ = _walk(root, np.zeros(n_features), found, memo)
            bias += root_value
            for leaf, attribution in found.items():
                block[leaf] = attribution
        blocks.append(block)
        offsets.append(start)
        start += n_leaves
    table = np.vstack(blocks) if blocks else np.zeros((0, n_features))
    return PathTables(table, np.asarray(offsets, dtype=np.int64), bias)

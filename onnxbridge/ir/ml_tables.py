"""The tables of ``ai.onnx.ml`` (and text feature) nodes, read once for every bridge's converter: a
LabelEncoder's keys, values and default (:func:`label_tables`), a TreeEnsemble's trees (:func:`tree_tables`),
a TfIdfVectorizer's n-gram pools (:func:`tfidf_pools`).

The TreeEnsemble converters evaluate every tree of the ensemble at once, one level per step: each sample's position
in each tree moves to the true or false child until it reaches a leaf. These tables are the node attributes
as arrays, with the set-membership values of BRANCH_MEMBER nodes padded into one matrix, and the depth (how
many steps the walk needs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AGGREGATES = {0: "average", 1: "sum", 2: "min", 3: "max"}
_MEMBER = 6


@dataclass
class TreeTables:
    """The arrays a tree walk reads (nodes by index, leaves by index)."""

    roots: np.ndarray          # int64 [trees]: the root node of each tree (a leaf index when root_leafs)
    root_leafs: np.ndarray     # bool [trees]: trees that are a single leaf
    features: np.ndarray       # int64 [nodes]
    splits: np.ndarray         # [nodes], the input's float type
    modes: np.ndarray          # int64 [nodes]: 0 <=, 1 <, 2 >=, 3 >, 4 ==, 5 !=, 6 member of a set
    true_ids: np.ndarray       # int64 [nodes]
    false_ids: np.ndarray      # int64 [nodes]
    true_leafs: np.ndarray     # bool [nodes]: the true child is a leaf index
    false_leafs: np.ndarray    # bool [nodes]
    missing_true: np.ndarray   # bool [nodes]: NaN goes to the true child
    members: np.ndarray        # [nodes, max members] NaN-padded set of each BRANCH_MEMBER node
    leaf_targets: np.ndarray   # int64 [leaves]
    leaf_weights: np.ndarray   # [leaves]
    n_targets: int
    aggregate: str
    depth: int

    def arrays(self) -> list[np.ndarray]:
        """The walk's arrays in the order the generated tree walks take them (roots ... leaf_weights)."""
        return [self.roots, self.root_leafs, self.features, self.splits, self.modes, self.true_ids, self.false_ids,
                self.true_leafs, self.false_leafs, self.missing_true, self.members, self.leaf_targets,
                self.leaf_weights]


def tree_tables(attrs: dict, dtype: np.dtype) -> TreeTables:
    """The tables of a TreeEnsemble node from its attributes (``ctx.attrs``), with splits, members and
    weights in ``dtype``; ValueError for what the walk cannot do (a post transform, a cycle)."""
    post = int(attrs.get("post_transform", 0))
    if post != 0:
        raise ValueError(f"post_transform {post} is not supported (only 0, none)")
    aggregate = AGGREGATES.get(int(attrs.get("aggregate_function", 1)))
    if aggregate is None:
        raise ValueError(f"aggregate_function {attrs.get('aggregate_function')} is not 0 to 3")

    def ints(name: str) -> np.ndarray:
        value = attrs.get(name)
        return np.asarray([] if value is None else value, dtype=np.int64).reshape(-1)

    features, modes = ints("nodes_featureids"), ints("nodes_modes")
    splits = np.asarray(attrs["nodes_splits"], dtype=dtype).reshape(-1)
    true_ids, false_ids = ints("nodes_truenodeids"), ints("nodes_falsenodeids")
    true_leafs, false_leafs = ints("nodes_trueleafs").astype(bool), ints("nodes_falseleafs").astype(bool)
    missing = ints("nodes_missing_value_tracks_true")
    missing_true = missing.astype(bool) if missing.size else np.zeros(features.shape, bool)
    roots = ints("tree_roots")
    root_leafs = true_leafs[roots] & false_leafs[roots] & (true_ids[roots] == false_ids[roots])
    # a single-leaf tree is its root index as a leaf index
    sets: list[list[float]] = [[] for _ in features]
    values = np.asarray(attrs.get("membership_values", []), dtype=np.float64).reshape(-1)
    cursor = 0
    for node in np.flatnonzero(modes == _MEMBER):
        while cursor < values.size and not np.isnan(values[cursor]):
            sets[node].append(float(values[cursor]))
            cursor += 1
        cursor += 1
    width = max([len(s) for s in sets] + [1])
    members = np.full((len(sets), width), np.nan, dtype=dtype)
    for row, s in enumerate(sets):
        members[row, : len(s)] = s
    return TreeTables(roots, root_leafs, features, splits, modes, true_ids, false_ids, true_leafs, false_leafs,
                      missing_true, members, ints("leaf_targetids"),
                      np.asarray(attrs["leaf_weights"], dtype=dtype).reshape(-1), int(attrs["n_targets"]),
                      aggregate, _depth(roots, root_leafs, true_ids, false_ids, true_leafs, false_leafs))


def _depth(roots, root_leafs, true_ids, false_ids, true_leafs, false_leafs) -> int:
    """The most steps from a root to a leaf."""
    deepest = 0
    stack = [(int(r), 1) for r, leaf in zip(roots, root_leafs) if not leaf]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > len(true_ids):
            raise ValueError("the trees have a cycle")
        for child, leaf in ((true_ids[node], true_leafs[node]), (false_ids[node], false_leafs[node])):
            if not leaf:
                stack.append((int(child), depth + 1))
    return deepest


def label_tables(attrs: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A LabelEncoder node's keys, values and default as 1-D arrays, from whichever attributes it uses
    (``keys_tensor`` / ``keys_floats`` / ``keys_int64s`` / ``keys_strings``, the same for values, and the
    ONNX defaults: -0.0, -1, ``"_Unused"``); strings as ``str`` objects. ValueError when keys or values
    are missing."""
    keys = next((np.asarray(attrs[k]) for k in ("keys_tensor", "keys_floats", "keys_int64s", "keys_strings")
                 if k in attrs), None)
    default = None
    if "values_tensor" in attrs:
        values = np.asarray(attrs["values_tensor"])
        if "default_tensor" in attrs:
            default = np.asarray(attrs["default_tensor"]).reshape(-1)[:1]
    elif "values_floats" in attrs:
        values = np.asarray(attrs["values_floats"], np.float32)
        default = np.asarray([attrs.get("default_float", -0.0)], np.float32)
    elif "values_int64s" in attrs:
        values = np.asarray(attrs["values_int64s"], np.int64)
        default = np.asarray([attrs.get("default_int64", -1)], np.int64)
    elif "values_strings" in attrs:
        values = np.asarray(attrs["values_strings"], dtype=object)
        default = np.asarray([attrs.get("default_string", "_Unused")], dtype=object)
    else:
        values = None
    if keys is None or values is None:
        raise ValueError("the keys and values must be given")
    keys, values = _texts(keys.reshape(-1)), _texts(values.reshape(-1))
    if default is None:
        default = np.asarray([""], dtype=object) if values.dtype == object else np.zeros(1, values.dtype)
    return keys, values, _texts(default).astype(values.dtype)


def _texts(array: np.ndarray) -> np.ndarray:
    if array.dtype.kind in "SU" or array.dtype == object:
        return np.asarray([v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in array.reshape(-1)],
                          dtype=object).reshape(array.shape)
    return array


def tfidf_pools(attrs: dict) -> tuple[list, int]:
    """The n-grams of a TfIdfVectorizer node by size, within [min_gram_length, max_gram_length]:
    ``[(size, grams [count][size], output positions [count]), ...]`` as lists, and the output width."""
    counts = [int(c) for c in attrs["ngram_counts"]]
    indexes = [int(i) for i in attrs["ngram_indexes"]]
    pool: list[str] | list[int]
    if "pool_strings" in attrs:
        pool = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in attrs["pool_strings"]]
    else:
        pool = [int(v) for v in attrs.get("pool_int64s", [])]
    low, high = int(attrs["min_gram_length"]), int(attrs["max_gram_length"])
    pools, gram = [], 0
    for k, start in enumerate(counts):
        size = k + 1
        end = counts[k + 1] if k + 1 < len(counts) else len(pool)
        n = (end - start) // size
        if n and low <= size <= high:
            grams = [pool[start + g * size:start + (g + 1) * size] for g in range(n)]
            pools.append((size, grams, indexes[gram:gram + n]))
        gram += n
    return pools, max(indexes) + 1

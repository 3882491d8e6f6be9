"""LightGBM's text model read into arrays, once per booster, and kept on the booster.

The compiled forest is built from LightGBM's text model (``model_to_string``), not its
JSON dump, which is several times slower to produce and parse: a model reloaded while the
service answers requests should hold the interpreter as briefly as possible. Each field
is parsed for all trees at once (one C parse of a long string, no array per tree).

The parse is kept on the booster itself, which LightGBM's pickling keeps
(``Booster.__getstate__`` copies the instance's attributes): a model saved after
:func:`keep_parsed_trees` loads with its trees parsed, and the service compiles its
forest without parsing the text again — the longest hold of the interpreter in a reload.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from leadscore.scoring.treeshap import _Trees

#: where a Booster keeps its parsed trees (an attribute: pickled with the booster)
_PARSED_ATTRIBUTE = "_leadscore_parsed_trees"
#: the layout of what is kept; a kept parse of another layout is parsed again
_PARSED_LAYOUT = 1

SPLIT_FIELDS = ("split_feature", "threshold", "decision_type", "left_child", "right_child",
                "internal_count")  # fmt: skip
LEAF_FIELDS = ("leaf_value", "leaf_count")
CAT_FIELDS = ("cat_boundaries", "cat_threshold")


def parsed_trees(booster: Any) -> tuple[dict[str, str], _Trees]:
    """A ``lightgbm.Booster``'s header and trees from its text model, parsed once and kept
    on the booster.

    A kept parse is used only while it still describes the booster: same layout, number
    of trees and iterations, and the same values in a few leaves read back from LightGBM
    (a booster trained further, or refitted, is parsed again)."""
    key = (_PARSED_LAYOUT, booster.current_iteration(), booster.num_trees())
    kept = booster.__dict__.get(_PARSED_ATTRIBUTE)
    if kept is not None and kept[0] == key and _same_leaves(booster, kept[2]):
        return kept[1], kept[2]
    header, trees = _parse_model(booster.model_to_string())
    booster.__dict__[_PARSED_ATTRIBUTE] = (key, header, trees)
    return header, trees


def _same_leaves(booster: Any, trees: _Trees) -> bool:
    """Whether the first and last leaf of a few trees hold the parsed values."""
    firsts = np.concatenate([[0], np.cumsum(trees.leaves)])
    values = trees.fields["leaf_value"]
    n = len(trees.leaves)
    for tree in sorted({0, n // 3, (2 * n) // 3, n - 1} if n else set()):
        for leaf in (0, int(trees.leaves[tree]) - 1):
            if booster.get_leaf_output(tree, leaf) != values[firsts[tree] + leaf]:
                return False
    return True


def keep_parsed_trees(pipeline: Any) -> None:
    """Parse the trees of every LightGBM booster in a fitted pipeline or bag of them (a
    ``FoldEnsemble``'s ``members_``), so that they are saved parsed with the model."""
    try:
        import lightgbm
    except ImportError:  # pragma: no cover - LightGBM is a dependency
        return
    for member in getattr(pipeline, "members_", [pipeline]):
        steps = getattr(member, "named_steps", {})
        booster = getattr(steps.get("model"), "booster_", None)
        if isinstance(booster, lightgbm.Booster):
            parsed_trees(booster)


def _parse_model(text: str) -> tuple[dict[str, str], _Trees]:
    """LightGBM's text model → its header and its trees.

    Each field is parsed for all trees at once (one C parse of a long string, no array
    per tree): this runs while the service answers requests."""
    blocks = text.split("\nTree=")
    header = dict(line.split("=", 1) for line in blocks[0].splitlines() if "=" in line)
    texts: dict[str, list[str]] = {n: [] for n in (*SPLIT_FIELDS, *LEAF_FIELDS, *CAT_FIELDS)}
    leaves, cats = [], []
    for block in blocks[1:]:
        block = block.split("\nend of trees", 1)[0]
        fields = dict(line.split("=", 1) for line in block.splitlines()[1:] if "=" in line)
        leaves.append(int(fields["num_leaves"]))
        cats.append(int(fields.get("num_cat", "0")))
        for name, found in texts.items():
            if fields.get(name):
                found.append(fields[name])
    n_leaves, n_cats = np.array(leaves, dtype=np.int64), np.array(cats, dtype=np.int64)
    expected = dict.fromkeys(SPLIT_FIELDS, int((n_leaves - 1).sum()))
    expected |= dict.fromkeys(LEAF_FIELDS, int(n_leaves.sum()))
    expected["cat_boundaries"] = int((n_cats + (n_cats > 0)).sum())
    parsed = {}
    for name, found in texts.items():
        numbers = np.fromstring(" ".join(found), sep=" ") if found else np.zeros(0)
        if name in expected and len(numbers) != expected[name]:
            raise ValueError(f"unreadable LightGBM model: field {name!r}")
        parsed[name] = numbers
    return header, _Trees(n_leaves, n_cats, parsed)

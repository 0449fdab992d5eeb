"""The JSON the tree drawing and its feature panel show, built from a fitted Barlow tree.

Pure functions, no widgets: :func:`tree_view_model` (nodes, edges, ER/EC/IV and which leaves
pass δ and τ), :func:`feature_panel` (the top activating images of a feature, with CAM
heatmaps when a model is given) and :func:`with_attack` (the feature attack added to a panel).
Images travel beside the JSON as encoded buffers that the items index.
"""

from __future__ import annotations

import time

import numpy as np

from ..data import EvalSet
from ..methods.barlow import BarlowResult
from ..text import finite_or_none
from ..thumbnails import THUMBNAIL_FORMATS, encode_thumbnails

__all__ = [
    "checked_model",
    "feature_panel",
    "group_title",
    "node_feature",
    "node_title",
    "rule_features",
    "tree_status",
    "tree_view_model",
    "with_attack",
]

VISUAL_FORMAT = "png"
VISUAL_MAX_SIZE = 160  # longest side of the images sent to the feature panel
NO_FEATURES = (
    "no features were given (features=None); pass features= (the (N, D) features the trees "
    "were fitted on) to see the top activating images, CAM heatmaps and the feature attack"
)


def tree_view_model(
    result: BarlowResult | None,
    *,
    delta: float,
    tau: float,
    class_name: str = "",
    grouping: str = "label",
    message: str = "",
) -> dict:
    """The drawing's JSON view model of a fitted tree at thresholds ``delta``/``tau``.

    Keys: ``status`` ("ok", "no_errors": nothing to explain, "error": no tree, see
    ``message``), ``class_name``, ``grouping``, ``delta``, ``tau``, ``k``, ``depth``,
    ``n`` (group size), ``n_errors``, ``ber``, ``aler``, ``n_leaves``, ``n_passing``,
    ``message``, ``reason`` (why no leaf passes, from :meth:`BarlowResult.empty_reason`;
    ``""`` when one does) and ``nodes``: one dict per tree node with ``id``, ``parent`` (-1 for the
    root), ``depth``, ``leaf``, ``feature`` / ``threshold`` (the split; -1 / None for
    leaves), ``edge`` (``{"feature", "op", "threshold"}`` of the condition from the parent,
    None for the root), ``rule`` (the path as text), ``size``, ``errors``, ``er``, ``ec``,
    ``iv``, ``passes`` (a failure leaf at these thresholds) and ``dim`` (a leaf that fails).
    Only the leaves' ``passes``/``dim`` depend on ``delta``/``tau`` (via
    :meth:`BarlowResult.leaves`, no refit).
    """
    base = {
        "status": "error",
        "class_name": class_name,
        "grouping": grouping,
        "delta": float(delta),
        "tau": float(tau),
        "k": None,
        "depth": None,
        "n": 0,
        "n_errors": 0,
        "ber": None,
        "aler": None,
        "n_leaves": 0,
        "n_passing": 0,
        "message": message,
        "reason": "",
        "nodes": [],
    }
    if result is None:
        return base
    base.update(
        k=int(result.params["k"]),
        depth=int(result.params["depth"]),
        n=result.n,
        n_errors=result.n_errors,
        ber=finite_or_none(result.base_error_rate),
    )
    if result.nothing_to_explain:
        who = "labelled" if grouping == "label" else "predicted as"
        base.update(
            status="no_errors",
            message=message
            or (f"No errors among the {result.n} images {who} {class_name}: nothing to explain."),
        )
        return base
    leaves = result.leaves(delta, tau)
    passes = dict(zip(leaves["node_id"].tolist(), leaves["passes"].tolist()))
    table = result.table
    nodes = []
    for i in range(result.n_nodes):
        leaf = bool(table["is_leaf"][i])
        edge = None
        if int(table["parent"][i]) >= 0:
            edge = {
                "feature": int(table["edge_feature"][i]),
                "op": str(table["edge_op"][i]),
                "threshold": float(table["edge_threshold"][i]),
            }
        ok = bool(passes.get(i, False))
        nodes.append(
            {
                "id": i,
                "parent": int(table["parent"][i]),
                "depth": int(table["depth"][i]),
                "leaf": leaf,
                "feature": int(table["feature"][i]),
                "threshold": None if leaf else float(table["threshold"][i]),
                "edge": edge,
                "rule": str(table["rule"][i]),
                "size": int(table["size"][i]),
                "errors": int(table["errors"][i]),
                "er": finite_or_none(table["error_rate"][i]),
                "ec": finite_or_none(table["error_coverage"][i]),
                "iv": finite_or_none(table["importance"][i]),
                "passes": ok,
                "dim": leaf and not ok,
            }
        )
    n_passing = int(sum(passes.values()))
    base.update(
        status="ok",
        aler=finite_or_none(result.aler),
        n_leaves=int(len(leaves)),
        n_passing=n_passing,
        reason="" if n_passing else result.empty_reason(delta, tau),
        nodes=nodes,
    )
    return base


def tree_status(model: dict, given: bool = False) -> str:
    """The status line of a view model: BER, ALER and the passing leaves (and why none
    passes), or the view model's message when there is no tree to draw."""
    if model["status"] != "ok":
        return model["message"]
    text = (
        f"BER {model['ber']:.1%} · ALER {model['aler']:.1%} · "
        f"{model['n_passing']} of {model['n_leaves']} leaves pass δ, τ"
    )
    if model["reason"]:
        text += f": {model['reason']}"
    if given:
        text = f"your tree (depth {model['depth']}, k {model['k']}) · {text}"
    return text


def group_title(
    group, correct, class_name: str, grouping: str, *, where="", given=False, drawn=True
) -> str:
    """The grid's title for a class's whole group (``group`` errors first)."""
    who = "labelled" if grouping == "label" else "predicted as"
    what = (
        f"the given tree's images {who} {class_name}"
        if given
        else f"images {who} {class_name}{where}"
    )
    n_errors = int((~np.asarray(correct)[group]).sum())
    errors = f"{n_errors} errors first" if n_errors else "no errors"
    hint = " — click a node to see its images" if drawn else ""
    return f"{len(group)} {what}, {errors}{hint}"


def node_title(result: BarlowResult, node: int, class_name: str) -> str:
    """The grid's title for a selected node: its rule, size, errors, ER and the BER."""
    size = int(result.table["size"][node])
    errors = int(result.table["errors"][node])
    rule = str(result.table["rule"][node])
    return (
        f"{class_name} · node {node}: {rule} — {size} images, {errors} errors "
        f"(ER {errors / max(size, 1):.1%}, BER {result.base_error_rate:.1%})"
    )


def checked_model(model, evalset: EvalSet, n_features: int | None):
    """``model`` adapted to a feature-map model, checked on one image to have one channel
    per feature (None stays None)."""
    if model is None:
        return None
    import torch

    from ..features.visualize import FeatureMapModel, _as_float_images

    adapter = FeatureMapModel.from_any(model)
    if n_features is None:  # no features to check against (results only)
        return adapter
    with adapter.evaluating(), torch.no_grad():
        pooled = adapter.features(_as_float_images(evalset.images_at([0]), adapter.device))
    if pooled.ndim != 2 or pooled.shape[1] != n_features:
        raise ValueError(
            f"model: its pooled features have shape {tuple(pooled.shape)} but `features` "
            f"has {n_features} columns; pass the model the features came from"
        )
    return adapter


def node_feature(result: BarlowResult, node: int) -> int | None:
    """The feature a node is about: its split, or for a leaf the last condition's feature."""
    if result.nothing_to_explain:
        return None
    feature = int(result.table["feature"][node])
    if feature >= 0:
        return feature
    feature = int(result.table["edge_feature"][node])
    return feature if feature >= 0 else None


def rule_features(result: BarlowResult, node: int) -> list[int]:
    """Distinct features on the path to ``node`` and of its own split, in path order."""
    if result.nothing_to_explain:
        return []
    features = [c.feature for c in result.rule(node).conditions]
    own = int(result.table["feature"][node])
    if own >= 0:
        features.append(own)
    return list(dict.fromkeys(features))


def encode(images: np.ndarray) -> list[bytes]:
    """``images`` as PNG buffers of at most ``VISUAL_MAX_SIZE`` pixels a side."""
    return encode_thumbnails(images, size=VISUAL_MAX_SIZE, format=VISUAL_FORMAT, n_jobs=1)


def feature_panel(
    evalset: EvalSet,
    features: np.ndarray | None,
    result: BarlowResult | None,
    feature: int | None,
    *,
    node: int | None,
    n_top: int,
    model=None,
    attack: bool = False,
) -> tuple[dict, list[bytes], np.ndarray | None]:
    """The feature panel of ``feature`` over the tree's group: ``(content, buffers, images)``.

    ``content["state"]``: "none" (nothing to show), "error" (see ``message``) or "ready";
    ``items`` hold each top image's index, activation, label, prediction and the positions of
    its buffers (``image``, ``overlay``, ``attack``; -1: none). With ``model`` the CAM
    heatmaps are added; with ``attack`` too, ``content["attack"]`` is "pending" and
    :func:`with_attack` completes it from the returned ``images``.
    """
    if feature is None or result is None or result.nothing_to_explain:
        return {"type": "visual", "state": "none"}, [], None
    if features is None:
        message = f"No feature panel: {NO_FEATURES}"
        return (
            {"type": "visual", "state": "error", "feature": feature, "message": message},
            [],
            None,
        )
    from ..features.visualize import top_activating

    indices = top_activating(features, feature, group=result.group, k=n_top)
    try:
        images = evalset.images_at(indices)
    except (ValueError, OSError) as error:
        message = f"images of feature {feature} could not be loaded: {error}"
        return {"type": "visual", "state": "error", "message": message}, [], None
    names = evalset.class_names
    items = [
        {
            "index": int(i),
            "activation": float(features[i, feature]),
            "label": names[int(evalset.labels[i])],
            "prediction": names[int(evalset.predictions[i])],
            "correct": bool(evalset.correct[i]),
            "image": position,
            "overlay": -1,
            "attack": -1,
        }
        for position, i in enumerate(indices.tolist())
    ]
    buffers = encode(images)
    content = {
        "type": "visual",
        "state": "ready",
        "feature": int(feature),
        "node": -1 if node is None else int(node),
        "rule_features": [] if node is None else rule_features(result, node),
        "mime": THUMBNAIL_FORMATS[VISUAL_FORMAT],
        "items": items,
        "heatmaps": "off",
        "attack": "off",
        "attack_info": None,
        "message": "",
    }
    if model is None:
        content["message"] = (
            "Pass model= (the feature-map model behind the features) to see CAM heatmaps "
            "and the feature attack."
        )
        return content, buffers, images
    from ..features.visualize import cam_heatmaps, overlay_heatmap

    try:
        overlays = overlay_heatmap(images, cam_heatmaps(model, images, feature), alpha=0.5)
    except Exception as error:  # a model that does not fit: say so in the panel
        content.update(heatmaps="error", attack="error", message=f"CAM failed: {error}")
        return content, buffers, images
    for item, position in zip(items, range(len(buffers), len(buffers) + len(overlays))):
        item["overlay"] = position
    buffers = buffers + encode(overlays)
    content.update(heatmaps="ready", attack="pending" if attack else "off")
    return content, buffers, images


def with_attack(
    content: dict, buffers: list[bytes], images: np.ndarray, model, *, steps: int, step_size
) -> tuple[dict, list[bytes], float]:
    """``content``/``buffers`` with the feature attack of ``content["feature"]`` added (or
    its error), and the seconds it took."""
    from ..features.visualize import feature_attack

    start = time.perf_counter()
    content = {**content, "items": [dict(item) for item in content["items"]]}
    try:
        attack = feature_attack(model, images, content["feature"], steps=steps, step_size=step_size)
    except Exception as error:
        content.update(attack="error", message=f"feature attack failed: {error}")
        return content, buffers, time.perf_counter() - start
    start_at = len(buffers)
    buffers = buffers + encode(attack.images)
    for offset, item in enumerate(content["items"]):
        item["attack"] = start_at + offset
    content["attack"] = "ready"
    content["attack_info"] = {
        "steps": attack.steps,
        "step_size": attack.step_size,
        "before": float(np.mean(attack.values_before)),
        "after": float(np.mean(attack.values_after)),
    }
    return content, buffers, time.perf_counter() - start

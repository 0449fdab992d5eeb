"""TreeView: Barlow's failure tree of one class as a clickable node-link diagram (anywidget).

The view is a thin layer over :class:`~failwidgets.methods.barlow.Barlow`: a tree is fitted
once per ``(class, grouping, depth, k)`` and cached; the ``delta`` and ``tau`` sliders only
re-filter the fitted leaves through :meth:`BarlowResult.leaves` (no refit).

What is drawn (see :func:`tree_view_model`): one node per tree node, its area proportional to
its number of samples, its colour the error rate relative to the group's base error rate
(``ER - BER`` on a diverging scale), its error rate ER, error coverage EC and importance
IV = ER * EC written under it; each edge carries its condition ``feature[j] <= t`` or
``feature[j] > t`` in original feature indices. Leaves that fail ``ER > BER + delta`` and
``EC > tau`` are dimmed, the passing leaves (the failure modes) are ringed.

Clicking a node shows its images in the :class:`~failwidgets.widgets.grid.ImageGrid` (errors
first) and the visualisation triplet of the node's feature (its split feature; for a leaf,
the feature of the condition that leads to it): the top activating images of the group, CAM
heatmaps and the feature attack (:mod:`failwidgets.features.visualize`). The images travel as
binary PNG buffers in a custom message, never in the widget state. The attack is computed on
a worker thread with a modest number of steps and sent when ready.

``indices=`` / ``split=`` restrict the view to some EvalSet rows (e.g. the test split): every
tree is fitted on, and every member reported from, those rows of the class only.

``results=`` shows a user's own fitted trees unchanged (a :class:`BarlowSurvey` kept with
``keep_results=True``, a mapping class -> :class:`BarlowResult`, or one result whose rows tell
its class): no refit, the depth/k controls are hidden for them, δ/τ still re-filter their
leaves. Classes without a given tree are fitted from ``features`` when given; with
``features=None`` the view says that no tree was given for them.

Every trait validator raises :class:`traitlets.TraitError` (a subclass that is also a
ValueError or TypeError, see :mod:`failwidgets.widgets.guard`) and checks every value, None
and values equal to the current one included. The browser may set none of the drawing's
traits (a ``set_state`` naming one is refused and rolled back) and a click it cannot apply
is answered with ``{"type": "error", ...}``.
"""

from __future__ import annotations

import functools
import math
import numbers
import pathlib
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

import anywidget
import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets

from ..checks import check_int as _check_int
from ..data import EvalSet
from ..methods.answers import answer_list
from ..methods.barlow import NODE_COLUMNS, Barlow, BarlowResult, BarlowSurvey
from ..thresholds import spec as threshold_spec
from ..thumbnails import THUMBNAIL_FORMATS, encode_thumbnails
from .grid import ImageGrid
from .guard import (
    BrowserMessageError,
    Checked,
    GuardedState,
    StrictInt,
    answer_errors,
    message_int,
    short_repr,
    validator,
)
from .selectable import Selectable
from .transport import pack_images

__all__ = ["TreeCanvas", "TreeView", "tree_view_model"]

_STATIC = pathlib.Path(__file__).parent.parent / "static"
GROUPINGS = ("label", "prediction")
MAX_DEPTH = 3
VISUAL_FORMAT = "png"
VISUAL_MAX_SIZE = 160  # longest side of the images sent to the feature panel
_NO_FEATURES = (
    "no features were given (features=None); pass features= (the (N, D) features the trees "
    "were fitted on) to see the top activating images, CAM heatmaps and the feature attack"
)


# ---------------------------------------------------------------------- validation


def _check_features(features, n: int) -> np.ndarray:
    if isinstance(features, (str, bytes)) or not hasattr(features, "__len__"):
        raise TypeError(
            f"features: expected an array (samples x features), got {type(features).__name__}"
        )
    array = np.asarray(features)
    if array.ndim != 2:
        raise ValueError(
            f"features: expected a 2-D array (samples x features), got shape {array.shape}"
        )
    if array.dtype.kind not in "biuf":
        raise TypeError(f"features: expected real numbers, got dtype {array.dtype}")
    if array.shape[0] != n:
        raise ValueError(
            f"features: {array.shape[0]} rows but the evalset has {n} samples; pass one "
            "feature row per sample"
        )
    if array.shape[1] == 0:
        raise ValueError("features: no feature columns")
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise ValueError("features: contains NaN or infinite values")
    array = np.ascontiguousarray(array)
    array.flags.writeable = False
    return array


def _split_rows(evalset: EvalSet, name, argument: str) -> np.ndarray:
    if not isinstance(name, str):
        raise TypeError(f"{argument}: expected a split name, got {type(name).__name__}")
    if evalset.split is None:
        raise ValueError(f"{argument}: the EvalSet has no split column")
    rows = np.flatnonzero(evalset.split == name)
    if rows.size == 0:
        raise ValueError(
            f"{argument}: no samples in split {name!r}; splits: {sorted(set(evalset.split))}"
        )
    return rows


def _analysed_rows(evalset: EvalSet, indices, split) -> tuple[np.ndarray | None, str]:
    """The rows a TreeView analyses (None: all) and a phrase naming them for messages.

    ``indices``: indices, a boolean mask or a split name (as LatticeView takes); ``split``: a
    split name; with both, the rows in both.
    """
    if indices is None and split is None:
        return None, ""
    parts: list[tuple[np.ndarray, str]] = []
    if split is not None:
        parts.append((_split_rows(evalset, split, "split"), f" in split {split!r}"))
    if isinstance(indices, str):
        parts.append((_split_rows(evalset, indices, "indices"), f" in split {indices!r}"))
    elif indices is not None:
        chosen = evalset.check_indices(indices, "indices")
        if chosen.size == 0:
            raise ValueError("indices: no rows to analyse (empty)")
        if np.unique(chosen).size != chosen.size:
            raise ValueError("indices: contains repeated indices")
        parts.append((np.unique(chosen), f" in the {chosen.size} given rows"))
    rows = functools.reduce(np.intersect1d, [part[0] for part in parts])
    if rows.size == 0:
        raise ValueError(f"indices: none of the given rows is in split {split!r}")
    where = parts[0][1] if len(parts) == 1 else f" in the {rows.size} given rows of {split!r}"
    rows.flags.writeable = False
    return rows, where


def _result_class(evalset: EvalSet, key) -> str:
    """The class name a key of ``results`` names (a name, an index, or an index as text)."""
    names = list(evalset.class_names)
    if isinstance(key, str) and key in names:
        return key
    if isinstance(key, str) and key.isdigit():
        key = int(key)
    if isinstance(key, numbers.Integral) and not isinstance(key, bool) and 0 <= key < len(names):
        return names[int(key)]
    raise ValueError(f"results: unknown class {key!r}; known: {names[:10]}")


def _result_grouping(evalset: EvalSet, result, class_name, preferred: tuple) -> tuple[str, str]:
    """The (class name, grouping) a tree explains, read from its rows: the grouping in which
    every row has the class (``class_name``, or when None the class all rows share)."""
    for grouping in preferred:
        values = (evalset.labels if grouping == "label" else evalset.predictions)[result.group]
        if values.size == 0 or np.any(values != values[0]):
            continue
        name = evalset.class_names[int(values[0])]
        if class_name is None or name == class_name:
            return name, grouping
    if class_name is None:
        raise ValueError(
            "results: cannot tell which class this BarlowResult explains (its rows are neither "
            "all labelled nor all predicted as one class); pass a mapping {class: result}"
        )
    wanted = " or ".join("labelled" if g == "label" else "predicted as" for g in preferred)
    raise ValueError(
        f"results: the tree given for {class_name!r} has rows not all {wanted} {class_name!r}"
    )


def _given_results(
    evalset: EvalSet, results, rows: np.ndarray | None, where: str, grouping: str
) -> dict[tuple[str, str], BarlowResult]:
    """The user's fitted trees keyed by (class name, grouping), checked against the EvalSet."""
    if isinstance(results, BarlowResult):
        items = [(None, None, results)]
    elif isinstance(results, BarlowSurvey):
        if results.results is None:
            raise ValueError(
                "results: the BarlowSurvey kept no trees; run it with keep_results=True"
            )
        items = [
            (name, None if kind == "custom" else kind, result)
            for (kind, name), result in results.results.items()
            if result is not None
        ]
    elif isinstance(results, Mapping):
        items = [(key, None, result) for key, result in results.items()]
    else:
        raise TypeError(
            "results: expected a BarlowSurvey (keep_results=True), a mapping "
            f"{{class: BarlowResult}} or a BarlowResult, got {type(results).__name__}"
        )
    if not items:
        raise ValueError("results: no fitted tree given (empty)")
    other = "prediction" if grouping == "label" else "label"
    given: dict[tuple[str, str], BarlowResult] = {}
    for key, kind, result in items:
        if not isinstance(result, BarlowResult):
            raise TypeError(
                f"results: expected BarlowResult values, got {type(result).__name__} for {key!r}"
            )
        group = np.asarray(result.group)
        if group.ndim != 1 or group.dtype.kind not in "iu":
            raise TypeError("results: a BarlowResult's group must be 1-D integer row indices")
        if group.size and (group.min() < 0 or group.max() >= evalset.n):
            raise ValueError(
                f"results: a tree has row index {int(group.max())} but the evalset has "
                f"{evalset.n} samples; pass results fitted on `evalset`"
            )
        name = None if key is None else _result_class(evalset, key)
        preferred = (kind,) if kind is not None else (grouping, other)
        name, by = _result_grouping(evalset, result, name, preferred)
        errors = np.asarray(result.errors)
        if errors.shape != group.shape:
            raise ValueError(
                f"results: the tree for {name!r} has {errors.size} error flags "
                f"for {group.size} rows"
            )
        mismatch = int(np.count_nonzero(errors != ~evalset.correct[group]))
        if mismatch:
            raise ValueError(
                f"results: the tree for {name!r} marks {mismatch} of its rows wrong where the "
                "evalset does not (or the reverse); pass results fitted on `evalset`"
            )
        if rows is not None and not np.isin(group, rows).all():
            outside = int(np.count_nonzero(~np.isin(group, rows)))
            raise ValueError(
                f"results: the tree for {name!r} has {outside} rows outside the analysed "
                f"rows{where}"
            )
        if (name, by) in given:
            raise ValueError(f"results: two trees for class {name!r} ({by} grouping)")
        given[(name, by)] = result
    return given


def _common(values, default: float) -> float:
    """The one value all ``values`` share, else ``default``."""
    values = {float(v) for v in values}
    return values.pop() if len(values) == 1 else default


def _finite_or_none(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------- the view model
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
        ber=_finite_or_none(result.base_error_rate),
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
                "er": _finite_or_none(table["error_rate"][i]),
                "ec": _finite_or_none(table["error_coverage"][i]),
                "iv": _finite_or_none(table["importance"][i]),
                "passes": ok,
                "dim": leaf and not ok,
            }
        )
    n_passing = int(sum(passes.values()))
    base.update(
        status="ok",
        aler=_finite_or_none(result.aler),
        n_leaves=int(len(leaves)),
        n_passing=n_passing,
        reason="" if n_passing else result.empty_reason(delta, tau),
        nodes=nodes,
    )
    return base


def _node_feature(result: BarlowResult, node: int) -> int | None:
    """The feature a node is about: its split, or for a leaf the last condition's feature."""
    if result.nothing_to_explain:
        return None
    feature = int(result.table["feature"][node])
    if feature >= 0:
        return feature
    feature = int(result.table["edge_feature"][node])
    return feature if feature >= 0 else None


def _rule_features(result: BarlowResult, node: int) -> list[int]:
    """Distinct features on the path to ``node`` and of its own split, in path order."""
    if result.nothing_to_explain:
        return []
    features = [c.feature for c in result.rule(node).conditions]
    own = int(result.table["feature"][node])
    if own >= 0:
        features.append(own)
    return list(dict.fromkeys(features))


# ---------------------------------------------------------------------- the drawing
class TreeCanvas(GuardedState, anywidget.AnyWidget):
    """The failure tree and the feature panel (browser side: ``js/src/tree.js``).

    ``tree`` is the view model of :func:`tree_view_model`; ``selected_node`` the highlighted
    node (-1: none). Both are the kernel's: the browser may set no trait (a ``set_state``
    naming one raises ``TraitError`` and changes nothing). The browser sends
    ``{"type": "select", "node": id}`` on a node click, ``{"type": "feature", "feature": j}``
    when a feature of the selected rule is chosen and ``{"type": "visual-request"}`` when it
    (re)draws; the feature panel's content comes back as a ``{"type": "visual", ...}``
    message with one binary PNG buffer per image. A message that cannot be applied (a node
    not drawn, a feature off the selected rule, a missing or non-integer field) is answered
    with ``{"type": "error", ...}``.

    The validators refuse a ``tree`` that is not a view model and a ``selected_node`` that is
    not a node of the drawn tree.
    """

    _esm = _STATIC / "tree.js"
    _browser_traits = frozenset()

    tree = traitlets.Dict({}).tag(sync=True)
    selected_node = StrictInt(-1).tag(sync=True)

    @validator("tree")
    def _valid_tree(self, proposal):
        value = proposal["value"]
        if value.get("status") not in ("ok", "no_errors", "error"):
            raise ValueError(
                f"tree: expected a view model with status 'ok', 'no_errors' or 'error', got "
                f"{str(value.get('status'))[:40]!r}"
            )
        nodes = value.get("nodes")
        if not isinstance(nodes, list) or not all(
            isinstance(node, dict) and isinstance(node.get("id"), int) for node in nodes
        ):
            raise ValueError("tree: expected 'nodes', a list of node dicts with integer ids")
        return value

    @validator("selected_node")
    def _valid_selected_node(self, proposal):
        value = proposal["value"]
        if value != -1 and value not in {node["id"] for node in self.tree.get("nodes", ())}:
            raise ValueError(f"selected_node: {value} is not a node of the tree (-1: none)")
        return value

    def __init__(
        self,
        on_node_click: Callable[[int], None] | None = None,
        on_feature: Callable[[int], None] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._on_node_click = on_node_click
        self._on_feature = on_feature
        self._visual: tuple[dict, list[bytes]] = ({"type": "visual", "state": "none"}, [])
        self._lock = threading.Lock()
        self.on_msg(self._on_message)

    @property
    def visual(self) -> tuple[dict, list[bytes]]:
        """The feature panel's current message and buffers."""
        with self._lock:
            return self._visual

    def send_visual(self, content: dict, buffers: list[bytes]) -> None:
        """Keep ``content``/``buffers`` as the panel's state and send them to the browser."""
        with self._lock:
            self._visual = (content, buffers)
        self.send(*pack_images(content, buffers))  # buffers, or data URLs (Colab)

    @answer_errors
    def _on_message(self, widget, content, buffers) -> None:
        kind = content.get("type")
        if kind == "visual-request":
            message, data = self.visual
            self.send(*pack_images(message, data))
        elif kind == "select":
            node = message_int(content, "node")
            if node not in {node["id"] for node in self.tree.get("nodes", ())}:
                raise BrowserMessageError(
                    f"node: {node} is not a node of the drawn tree (it changed since the click?)"
                )
            if self._on_node_click is not None:
                self._on_node_click(node)
        elif kind == "feature":
            feature = message_int(content, "feature")
            if self._on_feature is not None:
                self._on_feature(feature)  # raises BrowserMessageError when it cannot show it
        else:
            raise BrowserMessageError(
                f"type: expected 'select', 'feature' or 'visual-request', got {short_repr(kind)}"
            )


# ---------------------------------------------------------------------- the view
class TreeView(Selectable, widgets.VBox):
    """Barlow failure trees of the selected class, with threshold controls and an image grid.

    Parameters
    ----------
    evalset : EvalSet
        The evaluated samples (labels, predictions, images).
    features : array (N, D), optional
        One feature row per sample, e.g. the penultimate layer of a robust CNN: the trees
        are fitted on them and the feature panel shows them. May be None when ``results``
        are given (then no tree is fitted and the feature panel says what to pass).
    results : BarlowSurvey, mapping or BarlowResult, optional
        The user's own fitted trees, shown unchanged (no refit; the depth/k controls are
        hidden for them, δ/τ re-filter their leaves): a survey run with
        ``keep_results=True`` (:meth:`Barlow.survey` or :meth:`Barlow.fit_groups`, whose
        group names are class names or indices), a mapping class name/index ->
        :class:`BarlowResult`, or one result whose rows are all labelled (or all predicted
        as) one class. Each tree's grouping is read from its rows. Their rows must lie in the
        analysed rows and their error labels must match ``evalset``.
    grid : ImageGrid, optional
        Where a clicked node's images are shown (errors first). Default: the view makes its
        own grid and shows it below the tree.
    indices : indices, boolean mask or split name, optional
        The EvalSet rows the view analyses (default: all): each tree is fitted on, and
        reports members from, only the class's images among them.
    split : str, optional
        A split name: analyse its rows (with ``indices``: the rows in both).
    model : feature-map model, optional
        Anything :meth:`FeatureMapModel.from_any <failwidgets.features.visualize.FeatureMapModel.from_any>`
        accepts (e.g. the demo's ``RobustCNN``) whose pooled features are ``features``;
        needed for the CAM heatmaps and the feature attack (the top activating images need
        only ``features``).
    class_name : str or int, optional
        Class shown first; default: the class with the most errors in ``grouping``.
    grouping : {"label", "prediction"}, optional
        Images labelled as the class (its false negatives) or predicted as it (its false
        positives). Default: "label", or the grouping of all given ``results`` if they share one.
    delta, tau : float in [0, 1], optional
        A leaf is a failure leaf when ``ER > BER + delta`` and ``EC > tau``. Default: 0.1 and
        0.2, or the value all given ``results`` were fitted with.
    depth : int, 1..3
        Tree depth (the paper allows up to 3; its user study shows depth 2).
    k : int, optional
        Features kept by mutual information; default the paper's 20, or every column when
        ``features`` has fewer.
    n_top : int
        Images in the feature panel (the paper's 6).
    attack_steps : int
        Steps of the feature attack (the paper uses 500; fewer keep it to seconds on a CPU).
    attack_step_size : float, optional
        L2 length of an attack step; default: the engine's (1 on 224 x 224 images, scaled).
    random_state : int
        Seed of Barlow's mutual information and tree.
    background : bool
        Compute the feature attack on a worker thread (the panel shows it when ready).

    Attributes
    ----------
    class_name, grouping, delta, tau, depth, k : observable; setting ``delta``/``tau``
        re-filters the leaves (no refit), the others fit (or reuse a cached) tree.
    result : the current :class:`BarlowResult`, or None when the group cannot be fitted.
    result_is_given : whether ``result`` is one of the given ``results`` (shown unchanged).
    indices : the analysed EvalSet rows (ascending, read-only).
    selected_node : id of the selected node, or None.
    selected_members : EvalSet indices of the selected node (ascending; empty when none).
    passing_leaves : DataFrame of the leaves passing ``delta``/``tau``, by decreasing IV.
    grid, canvas : the linked :class:`ImageGrid` and the :class:`TreeCanvas` drawing.
    """

    class_name = Checked()
    grouping = Checked()
    delta = Checked()
    tau = Checked()
    depth = Checked()
    k = Checked()

    def __init__(
        self,
        evalset: EvalSet,
        features=None,
        *,
        results=None,
        grid: ImageGrid | None = None,
        indices=None,
        split: str | None = None,
        model=None,
        class_name: str | int | None = None,
        grouping: str | None = None,
        delta: float | None = None,
        tau: float | None = None,
        depth: int = 2,
        k: int | None = None,
        n_top: int = 6,
        attack_steps: int = 100,
        attack_step_size: float | None = None,
        random_state: int = 0,
        background: bool = True,
        **kwargs,
    ):
        if not isinstance(evalset, EvalSet):
            raise TypeError(f"evalset: expected an EvalSet, got {type(evalset).__name__}")
        self._evalset = evalset
        if features is None and results is None:
            raise TypeError(
                "features: expected an array (samples x features), got None; pass features= "
                "or your fitted trees in results="
            )
        self._features = None if features is None else _check_features(features, evalset.n)
        self._rows, self._where = _analysed_rows(evalset, indices, split)
        self._given: dict[tuple[str, str], BarlowResult] = {}
        if results is not None:
            self._given = _given_results(
                evalset, results, self._rows, self._where,
                grouping if grouping in GROUPINGS else "label",
            )  # fmt: skip
        given = list(self._given.values())
        if grouping is None:
            groupings = {by for _, by in self._given}
            grouping = groupings.pop() if len(groupings) == 1 else "label"
        delta = _common([r.delta for r in given], 0.1) if delta is None else delta
        tau = _common([r.tau for r in given], 0.2) if tau is None else tau
        n_features = None if self._features is None else self._features.shape[1]
        used = max((int(r.table["feature"].max()) for r in given), default=-1)
        if n_features is not None and used >= n_features:
            raise ValueError(
                f"features: the given results split on feature {used} but features has only "
                f"{n_features} columns; pass the features the results were fitted on"
            )
        if grid is not None and not isinstance(grid, ImageGrid):
            raise TypeError(f"grid: expected an ImageGrid or None, got {type(grid).__name__}")
        if grid is not None and grid.evalset is not evalset:
            raise ValueError("grid: the ImageGrid shows another EvalSet; pass one over `evalset`")
        self._n_top = _check_int(n_top, "n_top", 1, 50)
        self._attack_steps = _check_int(attack_steps, "attack_steps", 0)
        if attack_step_size is not None and (
            isinstance(attack_step_size, bool)
            or not isinstance(attack_step_size, numbers.Real)
            or not math.isfinite(attack_step_size)
            or attack_step_size <= 0
        ):
            raise ValueError(
                f"attack_step_size: expected a positive number or None, got {attack_step_size!r}"
            )
        self._attack_step_size = attack_step_size
        if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
            raise TypeError(
                f"random_state: expected an int seed, got {type(random_state).__name__}"
            )
        self._random_state = int(random_state)
        if not isinstance(background, bool):
            raise TypeError(f"background: expected True or False, got {type(background).__name__}")
        self._background = background
        self._model = self._check_model(model, evalset, n_features)

        self._cache: dict[tuple, BarlowResult | str] = {}
        self._result: BarlowResult | None = None
        self._status_message = ""
        self._selected_node: int | None = None
        self._selected_members = np.zeros(0, dtype=np.int64)
        self._visual_token = 0
        self._attack_future: Future | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._quiet = 0
        self._syncing = False
        self.timings: dict[str, float] = {}

        super().__init__(**kwargs)
        self.add_class("fw-tree-view")
        self._owns_grid = grid is None
        self.grid = ImageGrid(evalset, [], page_size=50, thumb_size=80) if grid is None else grid
        self.canvas = TreeCanvas(on_node_click=self.select, on_feature=self._on_feature_click)

        self._quiet += 1
        try:
            self.grouping = grouping
            self.delta = delta
            self.tau = tau
            self.depth = depth
            self.k = min(20, n_features or 20) if k is None else k
            self.class_name = self._default_class() if class_name is None else class_name
        finally:
            self._quiet -= 1
        self._build_controls()
        self._refit()
        children = [self._controls, self.canvas]
        if self._owns_grid:
            children.append(self.grid)
        self.children = children

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _check_model(model, evalset: EvalSet, n_features: int):
        """Adapt ``model`` and check on one image that it has one channel per feature."""
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

    def _default_class(self) -> str:
        es = self._evalset
        given = [(r.n_errors, name) for (name, by), r in self._given.items() if by == self.grouping]
        if given:  # the given tree with the most errors
            return max(given, key=lambda item: (item[0], -es.class_index(item[1])))[1]
        values = es.labels if self.grouping == "label" else es.predictions
        rows = self.indices
        wrong = rows[~es.correct[rows]]
        counts = np.bincount(values[wrong], minlength=es.n_classes)
        return es.class_names[int(np.argmax(counts))]

    def _group(self, class_name, grouping: str) -> np.ndarray:
        """The class's grouping among the analysed rows (ascending EvalSet indices)."""
        group = self._evalset.group(self._evalset.class_index(class_name), by=grouping)
        return group if self._rows is None else np.intersect1d(group, self._rows)

    def _build_controls(self) -> None:
        es = self._evalset
        n_features = max(self.k, 20) if self._features is None else self._features.shape[1]

        def fraction(name):
            spec = threshold_spec("barlow", name)
            return widgets.FloatSlider(
                min=0.0, max=1.0, step=0.01, readout_format=".2f", description=spec.label,
                tooltip=f"{spec.doc}; re-filters, no refit", continuous_update=spec.continuous,
                layout=widgets.Layout(width="250px"), style={"description_width": "28px"},
            )  # fmt: skip

        self._class_dropdown = widgets.Dropdown(
            options=list(es.class_names),
            description="class",
            layout=widgets.Layout(width="240px"),
            style={"description_width": "40px"},
        )
        self._grouping_toggle = widgets.ToggleButtons(
            options=[("by label", "label"), ("by prediction", "prediction")],
            tooltips=[
                "images labelled as the class (errors: its false negatives)",
                "images predicted as the class (errors: its false positives)",
            ],
            style={"button_width": "110px"},
        )
        self._controls_by_name = {
            "class_name": self._class_dropdown,
            "grouping": self._grouping_toggle,
            "delta": fraction("delta"),
            "tau": fraction("tau"),
            "depth": widgets.IntSlider(
                min=1, max=MAX_DEPTH, description="depth", continuous_update=False,
                tooltip="tree depth (fits a new tree)", layout=widgets.Layout(width="220px"),
                style={"description_width": "40px"},
            ),
            "k": widgets.IntSlider(
                min=1, max=n_features, description="k", continuous_update=False,
                tooltip="features kept by mutual information (fits a new tree)",
                layout=widgets.Layout(width="260px"), style={"description_width": "28px"},
            ),
        }  # fmt: skip
        for name, control in self._controls_by_name.items():
            control.add_class(f"fw-tree-control-{name.replace('_', '-')}")
            control.value = getattr(self, name)
            control.observe(self._control_changed(name), names="value")
        self._status = widgets.HTML(layout=widgets.Layout(margin="0 0 0 12px"))
        self._status.add_class("fw-tree-summary")
        c = self._controls_by_name
        self._controls = widgets.VBox(
            [
                widgets.HBox(
                    [c["class_name"], c["grouping"], self._status],
                    layout={"flex_flow": "row wrap", "align_items": "center"},
                ),
                widgets.HBox(
                    [c["delta"], c["tau"], c["depth"], c["k"]], layout={"flex_flow": "row wrap"}
                ),
            ]
        )

    # ------------------------------------------------------------------ validation
    @validator("class_name")
    def _valid_class(self, proposal):
        value = proposal["value"]
        if isinstance(value, bool) or not isinstance(value, (str, numbers.Integral)):
            raise TypeError(f"class_name: expected a class name, got {type(value).__name__}")
        if isinstance(value, str) and value not in self._evalset.class_names:
            raise ValueError(
                f"class_name: unknown class {value!r}; known: {list(self._evalset.class_names)[:10]}"
            )
        if not isinstance(value, str):
            if not 0 <= int(value) < self._evalset.n_classes:
                raise ValueError(
                    f"class_name: class index {value} outside 0..{self._evalset.n_classes - 1}"
                )
            value = self._evalset.class_names[int(value)]
        return value

    @validator("grouping")
    def _valid_grouping(self, proposal):
        value = proposal["value"]
        if value not in GROUPINGS:
            raise ValueError(f"grouping: expected 'label' or 'prediction', got {value!r}")
        return value

    @validator("delta", "tau")
    def _valid_fraction(self, proposal):
        return threshold_spec("barlow", proposal["trait"].name).check(proposal["value"])

    @validator("depth")
    def _valid_depth(self, proposal):
        return _check_int(proposal["value"], "depth", 1, MAX_DEPTH)

    @validator("k")
    def _valid_k(self, proposal):
        value = _check_int(proposal["value"], "k", 1)
        if self._features is None:  # nothing is fitted: k only matters with features
            return value
        n_features = self._features.shape[1]
        if value > n_features:
            raise ValueError(
                f"k: {value} features requested but the feature matrix has only {n_features} "
                "columns"
            )
        return value

    # ------------------------------------------------------------------ reactions
    @traitlets.observe("delta", "tau")
    def _on_threshold(self, change):
        self._sync_control(change["name"])
        if not self._quiet:
            self._refilter()

    @traitlets.observe("class_name", "grouping", "depth", "k")
    def _on_fit_setting(self, change):
        self._sync_control(change["name"])
        if not self._quiet:
            self._refit()

    def _control_changed(self, name: str):
        def handler(change):
            if self._syncing:
                return
            try:
                setattr(self, name, change["new"])
            except (TypeError, ValueError) as error:
                self._set_status(str(error), error=True)
                self._sync_control(name)

        return handler

    def _sync_control(self, name: str) -> None:
        control = getattr(self, "_controls_by_name", {}).get(name)
        if control is None or control.value == getattr(self, name):
            return
        self._syncing = True
        try:
            control.value = getattr(self, name)
        finally:
            self._syncing = False

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        class_name: str | None = None,
        grouping: str | None = None,
        depth: int | None = None,
        k: int | None = None,
    ) -> BarlowResult | str:
        """The tree of a class/grouping/depth/k (default: the current ones), fitted once and
        cached; a message string when the group cannot be explained by a tree (no images,
        all misclassified, too few). A given result (``results=``) is returned as is, whatever
        ``depth`` and ``k``."""
        class_name = self.class_name if class_name is None else class_name
        grouping = self.grouping if grouping is None else grouping
        given = self._given.get((class_name, grouping))
        if given is not None:
            return given
        if self._features is None:
            who = "label" if grouping == "label" else "prediction"
            return (
                f"No Barlow result was given for {class_name} ({who} grouping): pass its tree "
                "in results=, or features= to fit one."
            )
        depth = self.depth if depth is None else depth
        k = self.k if k is None else k
        key = (class_name, grouping, depth, k)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        group = self._group(class_name, grouping)
        if group.size == 0:
            who = "labelled" if grouping == "label" else "predicted as"
            cached = f"No images {who} {class_name}{self._where}: nothing to fit."
        else:
            estimator = Barlow(
                k=k, depth=depth, delta=self.delta, tau=self.tau, random_state=self._random_state
            )
            try:
                cached = estimator.fit(self._features, self._evalset, group)
            except ValueError as error:  # all misclassified, too few samples
                cached = f"No tree for {class_name} ({grouping} grouping): {error}"
        self._cache[key] = cached
        return cached

    def fit_current(self) -> BarlowResult | None:
        """Fit (or take from the cache) the current tree and make it the view's result."""
        fitted = self.fit()
        if isinstance(fitted, str):
            self._result, self._status_message = None, fitted
        else:
            self._result, self._status_message = fitted, ""
        return self._result

    def _refit(self) -> None:
        import time

        start = time.perf_counter()
        self.fit_current()
        self.timings["fit"] = time.perf_counter() - start
        fixed = self._features is None or self.result_is_given  # depth/k would need a refit
        for name in ("depth", "k"):
            self._controls_by_name[name].layout.display = "none" if fixed else None
        self._clear_selection()
        self._refresh()
        self._show_group_in_own_grid()

    def _refilter(self) -> None:
        import time

        start = time.perf_counter()
        self._refresh()
        self.timings["refilter"] = time.perf_counter() - start

    def view_model(self) -> dict:
        """The drawing's view model at the current thresholds (see :func:`tree_view_model`)."""
        return tree_view_model(
            self._result,
            delta=self.delta,
            tau=self.tau,
            class_name=self.class_name,
            grouping=self.grouping,
            message=self._status_message,
        )

    def _refresh(self) -> None:
        model = self.view_model()
        with self.canvas.hold_sync():
            self.canvas.tree = model
            self.canvas.selected_node = self._drawn_selection()
        if model["status"] == "ok":
            text = (
                f"BER {model['ber']:.1%} · ALER {model['aler']:.1%} · "
                f"{model['n_passing']} of {model['n_leaves']} leaves pass δ, τ"
            )
            if model["reason"]:
                text += f": {model['reason']}"
            if self.result_is_given:
                text = f"your tree (depth {model['depth']}, k {model['k']}) · {text}"
            self._set_status(text)
        else:
            self._set_status(model["message"])

    def _drawn_selection(self) -> int:
        """The selected node for the drawing: -1 when none or not drawn (nothing to explain)."""
        drawn = {node["id"] for node in self.canvas.tree.get("nodes", ())}
        return self._selected_node if self._selected_node in drawn else -1

    def _set_status(self, text: str, error: bool = False) -> None:
        import html

        colour = "var(--jp-error-color1, #d32f2f)" if error else "var(--jp-ui-font-color1, #444)"
        self._status_text = text
        if hasattr(self, "_status"):
            self._status.value = f'<span style="color: {colour}">{html.escape(text)}</span>'

    def _show_group_in_own_grid(self) -> None:
        if not self._owns_grid:
            return
        who = "labelled" if self.grouping == "label" else "predicted as"
        if self.result_is_given:
            group, what = self._result.group, f"the given tree's images {who} {self.class_name}"
        else:
            group = self._group(self.class_name, self.grouping)
            what = f"images {who} {self.class_name}{self._where}"
        group = group[np.argsort(self._evalset.correct[group], kind="stable")]
        n_errors = int((~self._evalset.correct[group]).sum())
        errors = f"{n_errors} errors first" if n_errors else "no errors"
        hint = " — click a node to see its images" if self.canvas.tree["status"] == "ok" else ""
        self.grid.show(group, title=f"{len(group)} {what}, {errors}{hint}")

    # ------------------------------------------------------------------ public API
    @property
    def evalset(self) -> EvalSet:
        return self._evalset

    @property
    def features(self) -> np.ndarray | None:
        """The feature matrix, or None when only ``results`` were given."""
        return self._features

    @property
    def indices(self) -> np.ndarray:
        """The EvalSet rows the view analyses (ascending, read-only)."""
        if self._rows is None:
            rows = np.arange(self._evalset.n)
            rows.flags.writeable = False
            return rows
        return self._rows

    @property
    def result(self) -> BarlowResult | None:
        return self._result

    @property
    def result_is_given(self) -> bool:
        """Whether the tree on screen is one of the given ``results`` (shown unchanged)."""
        r = self._result
        return r is not None and any(r is given for given in self._given.values())

    @property
    def given_results(self) -> dict[tuple[str, str], BarlowResult]:
        """The given ``results`` keyed by (class name, grouping)."""
        return dict(self._given)

    @property
    def status(self) -> str:
        """The status line (BER, ALER and passing leaves, or why there is no tree)."""
        return self._status_text

    @property
    def selected_node(self) -> int | None:
        return self._selected_node

    @property
    def selected_members(self) -> np.ndarray:
        view = self._selected_members.view()
        view.flags.writeable = False
        return view

    @property
    def passing_leaves(self) -> pd.DataFrame:
        """Leaves passing ``delta``/``tau`` (node table columns), by decreasing IV."""
        r = self._result
        if r is None or r.nothing_to_explain:
            return pd.DataFrame(columns=NODE_COLUMNS)
        return r.failure_leaves(self.delta, self.tau)

    def thresholds(self) -> dict:
        """The current ``delta`` and ``tau``."""
        return {"delta": self.delta, "tau": self.tau}

    def set_class(self, name: str | int) -> None:
        """Show the tree of class ``name``."""
        self.class_name = name

    def _describe(self, rule: str, class_name: str | None = None) -> str:
        if self.grouping == "prediction":
            return f"predicted as {class_name or self.class_name}: {rule}"
        return rule

    def failure_modes(self, classes="current") -> list:
        """Passing leaves at the current ``delta``/``tau`` as :class:`~failwidgets.modes.FailureMode`.

        Parameters
        ----------
        classes : "current" (the tree on screen), "all" (every class, at the current
            grouping/depth/k; trees are fitted once and cached), a class name or index, or a
            list of them.

        Returns
        -------
        list of FailureMode
            When empty, its ``reason`` (shown in its repr) says why for each class: no tree
            (the status message), no errors to explain, or :meth:`BarlowResult.empty_reason`.
        """
        from dataclasses import replace

        delta, tau, grouping = self.delta, self.tau, self.grouping  # one snapshot (the
        # Explorer calls from a thread)
        if isinstance(classes, str) and classes == "current":
            names = [self.class_name]
            results = [self._status_message if self._result is None else self._result]
        else:
            if isinstance(classes, str) and classes == "all":
                classes = list(self._evalset.class_names)
            elif isinstance(classes, (str, numbers.Integral)):
                classes = [classes]
            if not isinstance(classes, (list, tuple)):
                raise TypeError(
                    "classes: expected 'current', 'all', a class name or a list of them, got "
                    f"{type(classes).__name__}"
                )
            names = [self._valid_class({"value": c}) for c in classes]
            results = [self.fit(name) for name in names]
        modes, reasons = [], []
        for name, r in zip(names, results):
            if not isinstance(r, BarlowResult):
                reasons.append((name, str(r)))
                continue
            if r.nothing_to_explain:
                reasons.append((name, f"no errors among its {r.n} images: nothing to explain"))
                continue
            found = r.to_failure_modes(
                delta, tau, class_name=name, features=self._features, grouping=grouping
            )
            if not found:
                reasons.append((name, str(found.reason)))
            modes += [
                replace(
                    m,
                    description=self._describe(m.description, name),
                    members=np.sort(m.members),
                )
                for m in found
            ]
        if len(names) == 1:
            return answer_list(modes, lambda: reasons[0][1])
        return answer_list(
            modes,
            lambda: "; ".join(f"{name}: {why}" for name, why in reasons) or "no class was given",
        )

    def select(self, node: int) -> None:
        """Select tree node ``node``: highlight it, show its images in the grid (errors
        first), show its feature's visualisation and notify ``on_select``."""
        from ..modes import FailureMode
        from ..rules import TreePathRule

        r = self._result
        if r is None:
            raise ValueError(f"node: no tree to select from ({self._status_message})")
        node = _check_int(node, "node", 0, r.n_nodes - 1)
        members = r.members(node, errors_first=True)
        self._selected_node = node
        self._selected_members = np.sort(members)
        self.canvas.selected_node = self._drawn_selection()
        size = int(r.table["size"][node])
        errors = int(r.table["errors"][node])
        rule = str(r.table["rule"][node])
        title = (
            f"{self.class_name} · node {node}: {rule} — {size} images, {errors} errors "
            f"(ER {errors / max(size, 1):.1%}, BER {r.base_error_rate:.1%})"
        )
        feature = _node_feature(r, node)
        scores = None
        if feature is not None and self._features is not None:
            scores = self._features[members, feature]
        self.grid.show(members, scores=scores, title=title)
        self._visualize(feature)
        path = None
        if self._features is not None:
            path = TreePathRule(
                self.class_name, r.rule(node).conditions, self._features, grouping=self.grouping
            )
        mode = FailureMode.from_members(
            "barlow",
            self.class_name,
            self._describe(rule),
            self._selected_members.copy(),
            self._evalset,
            reference_indices=r.group,
            grouping=None,  # the tree's group is the class's rows
            rule=path,
        )
        self._notify_select(mode)

    def visualize(self, feature: int) -> None:
        """Show the visualisation triplet of ``feature`` (any column) over the group."""
        if self._features is None:
            raise ValueError(f"feature: {_NO_FEATURES}")
        feature = _check_int(feature, "feature", 0, self._features.shape[1] - 1)
        if self._result is None:
            raise ValueError(f"feature: no group to visualise ({self._status_message})")
        self._visualize(feature)

    def _on_feature_click(self, feature: int) -> None:
        """A feature chosen in the browser: drawn only when it is on the selected rule (the
        only features the panel offers); anything else is refused (answered as an error)."""
        r, node = self._result, self._selected_node
        if r is None or node is None:
            raise BrowserMessageError(f"feature: no node is selected to show feature {feature} of")
        rule = _rule_features(r, node)
        if feature not in rule:
            raise BrowserMessageError(
                f"feature: {feature} is not on the selected node's rule (its features: {rule})"
            )
        self._visualize(feature)

    def _clear_selection(self) -> None:
        self._selected_node = None
        self._selected_members = np.zeros(0, dtype=np.int64)
        self.canvas.selected_node = -1
        self._visualize(None)

    # ------------------------------------------------------------------ feature panel
    @property
    def visual(self) -> dict:
        """The feature panel's state: ``state`` ("none", "ready", "error"), ``feature``,
        ``attack`` ("off", "pending", "ready", "error"), the images' ``items`` and
        ``message`` (images themselves travel as buffers; see :attr:`visual_images`)."""
        return self.canvas.visual[0]

    @property
    def visual_images(self) -> list[bytes]:
        """The feature panel's PNG buffers (indexed by the items' ``image``/``overlay``/``attack``)."""
        return self.canvas.visual[1]

    def wait_for_attack(self, timeout: float | None = 60.0) -> None:
        """Block until a feature attack started by a selection has been sent."""
        future = self._attack_future
        if future is not None:
            future.result(timeout=timeout)

    def _visualize(self, feature: int | None) -> None:
        self._visual_token += 1
        token = self._visual_token
        r = self._result
        if feature is None or r is None or r.nothing_to_explain:
            self.canvas.send_visual({"type": "visual", "state": "none", "token": token}, [])
            return
        if self._features is None:
            content = {"type": "visual", "state": "error", "token": token, "feature": feature}
            self.canvas.send_visual({**content, "message": f"No feature panel: {_NO_FEATURES}"}, [])
            return
        node = self._selected_node
        indices = _top_activating(self._features, feature, r.group, self._n_top)
        try:
            images = self._evalset.images_at(indices)
        except (ValueError, OSError) as error:
            message = f"images of feature {feature} could not be loaded: {error}"
            self.canvas.send_visual(
                {"type": "visual", "state": "error", "token": token, "message": message}, []
            )
            return
        items = [
            {
                "index": int(i),
                "activation": float(self._features[i, feature]),
                "label": self._evalset.class_names[int(self._evalset.labels[i])],
                "prediction": self._evalset.class_names[int(self._evalset.predictions[i])],
                "correct": bool(self._evalset.correct[i]),
                "image": position,
                "overlay": -1,
                "attack": -1,
            }
            for position, i in enumerate(indices.tolist())
        ]
        buffers = _encode(images)
        content = {
            "type": "visual",
            "token": token,
            "state": "ready",
            "feature": int(feature),
            "node": -1 if node is None else int(node),
            "rule_features": [] if node is None else _rule_features(r, node),
            "mime": THUMBNAIL_FORMATS[VISUAL_FORMAT],
            "items": items,
            "heatmaps": "off",
            "attack": "off",
            "attack_info": None,
            "message": "",
        }
        if self._model is None:
            content["message"] = (
                "Pass model= (the feature-map model behind the features) to see CAM heatmaps "
                "and the feature attack."
            )
            self.canvas.send_visual(content, buffers)
            return
        try:
            overlays = self._overlays(images, feature)
        except Exception as error:  # a model that does not fit: say so in the panel
            content.update(heatmaps="error", attack="error", message=f"CAM failed: {error}")
            self.canvas.send_visual(content, buffers)
            return
        for item, position in zip(items, range(len(buffers), len(buffers) + len(overlays))):
            item["overlay"] = position
        buffers = buffers + _encode(overlays)
        content["heatmaps"] = "ready"
        if self._attack_steps == 0:
            self.canvas.send_visual(content, buffers)
            return
        content["attack"] = "pending"
        self.canvas.send_visual(content, buffers)
        job = (token, content, buffers, images, feature)
        if self._background:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="fw-tree-attack")
            self._attack_future = self._executor.submit(self._attack, *job)
        else:
            future: Future = Future()
            future.set_result(self._attack(*job))
            self._attack_future = future

    def _overlays(self, images: np.ndarray, feature: int) -> np.ndarray:
        from ..features.visualize import cam_heatmaps, overlay_heatmap

        heat = cam_heatmaps(self._model, images, feature)
        return overlay_heatmap(images, heat, alpha=0.5)

    def _attack(self, token, content, buffers, images, feature) -> None:
        import time

        from ..features.visualize import feature_attack

        start = time.perf_counter()
        content = {**content, "items": [dict(item) for item in content["items"]]}
        try:
            attack = feature_attack(
                self._model,
                images,
                feature,
                steps=self._attack_steps,
                step_size=self._attack_step_size,
            )
        except Exception as error:
            content.update(attack="error", message=f"feature attack failed: {error}")
        else:
            start_at = len(buffers)
            buffers = buffers + _encode(attack.images)
            for offset, item in enumerate(content["items"]):
                item["attack"] = start_at + offset
            content["attack"] = "ready"
            content["attack_info"] = {
                "steps": attack.steps,
                "step_size": attack.step_size,
                "before": float(np.mean(attack.values_before)),
                "after": float(np.mean(attack.values_after)),
            }
        self.timings["attack"] = time.perf_counter() - start
        if token == self._visual_token:  # a newer selection replaced this one: drop it
            self.canvas.send_visual(content, buffers)

    def close(self) -> None:
        executor = getattr(self, "_executor", None)
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        super().close()


def _top_activating(features: np.ndarray, feature: int, group: np.ndarray, k: int) -> np.ndarray:
    from ..features.visualize import top_activating

    return top_activating(features, feature, group=group, k=k)


def _encode(images: np.ndarray) -> list[bytes]:
    return encode_thumbnails(images, size=VISUAL_MAX_SIZE, format=VISUAL_FORMAT, n_jobs=1)

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

import math
import numbers
import pathlib
import threading
import time
from collections.abc import Callable

import anywidget
import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets

from ..checks import check_int as _check_int
from ..data import EvalSet
from ..methods.answers import answer_list
from ..methods.barlow import NODE_COLUMNS, BarlowResult
from ..methods.barlow_inputs import ClassTrees, check_features, common_value, given_results
from ..modes import FailureMode
from ..rows import analysed_rows
from ..viewmodels.tree import (
    NO_FEATURES,
    feature_panel,
    node_feature,
    rule_features,
    tree_view_model,
    with_attack,
)
from .failure_view import ClassName, FailureView
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
from .threshold_controls import ControlLink, Threshold
from .transport import pack_images

__all__ = ["TreeCanvas", "TreeView", "tree_view_model"]

_STATIC = pathlib.Path(__file__).parent.parent / "static"
GROUPINGS = ("label", "prediction")
MAX_DEPTH = 3


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
class TreeView(FailureView):
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
    show_controls : bool
        Show the class selector and the δ/τ sliders (the Explorer shows them in its panel).

    Attributes
    ----------
    class_name, grouping, delta, tau, depth, k : observable typed traits; setting
        ``delta``/``tau`` re-filters the leaves (no refit), the others fit (or reuse a cached)
        tree.
    status : the status line (BER, ALER and passing leaves, or why there is no tree).
    result : the current :class:`BarlowResult`, or None when the group cannot be fitted.
    result_is_given : whether ``result`` is one of the given ``results`` (shown unchanged).
    indices : the analysed EvalSet rows (ascending, read-only).
    selected_node : id of the selected node, or None.
    selected_members : EvalSet indices of the selected node (ascending; empty when none).
    passing_leaves : DataFrame of the leaves passing ``delta``/``tau``, by decreasing IV.
    grid, canvas : the linked :class:`ImageGrid` and the :class:`TreeCanvas` drawing.
    """

    method = "barlow"
    class_name = ClassName(help="the class whose tree is shown")
    delta = Threshold("barlow", "delta")
    tau = Threshold("barlow", "tau")
    grouping = Checked()
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
        super().__init__(evalset, grid=grid, background=background, **kwargs)
        if features is None and results is None:
            raise TypeError(
                "features: expected an array (samples x features), got None; pass features= "
                "or your fitted trees in results="
            )
        self._features = None if features is None else check_features(features, evalset.n)
        self._rows, self._where = analysed_rows(evalset, indices, split)
        self._given: dict[tuple[str, str], BarlowResult] = {}
        if results is not None:
            preferred = grouping if grouping in GROUPINGS else "label"
            self._given = given_results(evalset, results, self._rows, self._where, preferred)
        given = list(self._given.values())
        if grouping is None:
            groupings = {by for _, by in self._given}
            grouping = groupings.pop() if len(groupings) == 1 else "label"
        n_features = None if self._features is None else self._features.shape[1]
        used = max((int(r.table["feature"].max()) for r in given), default=-1)
        if n_features is not None and used >= n_features:
            raise ValueError(
                f"features: the given results split on feature {used} but features has only "
                f"{n_features} columns; pass the features the results were fitted on"
            )
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
        self._random_state = _check_int(random_state, "random_state")
        self._model = self._check_model(model, evalset, n_features)
        self._trees = ClassTrees(
            evalset, self._features, self._rows, self._where, self._given, self._random_state
        )
        self._result: BarlowResult | None = None
        self._status_message = ""
        self._selected_node: int | None = None
        self._panel_token = 0
        self.timings: dict[str, float] = {}

        self.grouping = grouping
        self.delta = common_value([r.delta for r in given], 0.1) if delta is None else delta
        self.tau = common_value([r.tau for r in given], 0.2) if tau is None else tau
        self.depth = depth
        self.k = min(20, n_features or 20) if k is None else k
        if class_name is None:
            class_name = self._trees.default_class(self.grouping, self.indices)
        self.class_name = class_name
        self.add_class("fw-tree-view")
        self.canvas = TreeCanvas(on_node_click=self.select, on_feature=self._on_feature_click)
        self._controls = self._build_controls()
        self._finish_init()
        self._refit()
        self.children = [self._controls, self.canvas] + ([self.grid] if self._owns_grid else [])

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

    def _build_controls(self) -> widgets.VBox:
        n_features = max(self.k, 20) if self._features is None else self._features.shape[1]
        grouping = widgets.ToggleButtons(
            options=[("by label", "label"), ("by prediction", "prediction")],
            tooltips=[
                "images labelled as the class (errors: its false negatives)",
                "images predicted as the class (errors: its false positives)",
            ],
            style={"button_width": "110px"},
        )
        depth = widgets.IntSlider(
            min=1, max=MAX_DEPTH, description="depth", continuous_update=False,
            tooltip="tree depth (fits a new tree)", layout=widgets.Layout(width="220px"),
            style={"description_width": "40px"},
        )  # fmt: skip
        k = widgets.IntSlider(
            min=1, max=n_features, description="k", continuous_update=False,
            tooltip="features kept by mutual information (fits a new tree)",
            layout=widgets.Layout(width="260px"), style={"description_width": "28px"},
        )  # fmt: skip
        for name, control in (("grouping", grouping), ("depth", depth), ("k", k)):
            ControlLink((self, name), (control, "value"), on_error=self._control_error)
        delta, tau = self.threshold_controls()
        self._controls_by_name = {
            "class_name": self.class_control(),
            "grouping": grouping,
            "delta": delta,
            "tau": tau,
            "depth": depth,
            "k": k,
        }
        for name, control in self._controls_by_name.items():
            control.add_class(f"fw-tree-control-{name.replace('_', '-')}")
        self._status_html.add_class("fw-tree-summary")
        c = self._controls_by_name
        return widgets.VBox(
            [
                widgets.HBox(
                    [c["class_name"], c["grouping"], self._status_html],
                    layout={"flex_flow": "row wrap", "align_items": "center"},
                ),
                widgets.HBox(
                    [c["delta"], c["tau"], c["depth"], c["k"]], layout={"flex_flow": "row wrap"}
                ),
            ]
        )

    # ------------------------------------------------------------------ validation
    @validator("grouping")
    def _valid_grouping(self, proposal):
        value = proposal["value"]
        if value not in GROUPINGS:
            raise ValueError(f"grouping: expected 'label' or 'prediction', got {value!r}")
        return value

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
    def _on_threshold(self, name: str) -> None:
        start = time.perf_counter()
        self._refresh()
        self.timings["refilter"] = time.perf_counter() - start

    def _on_class(self) -> None:
        self._refit()

    @traitlets.observe("grouping", "depth", "k")
    def _on_fit_setting(self, change):
        if self._ready:
            self._refit()

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
        return self._trees.get(
            self.class_name if class_name is None else class_name,
            self.grouping if grouping is None else grouping,
            depth=self.depth if depth is None else depth,
            k=self.k if k is None else k,
            delta=self.delta,
            tau=self.tau,
        )

    def fit_current(self) -> BarlowResult | None:
        """Fit (or take from the cache) the current tree and make it the view's result."""
        fitted = self.fit()
        if isinstance(fitted, str):
            self._result, self._status_message = None, fitted
        else:
            self._result, self._status_message = fitted, ""
        return self._result

    def _refit(self) -> None:
        start = time.perf_counter()
        self.fit_current()
        self.timings["fit"] = time.perf_counter() - start
        fixed = self._features is None or self.result_is_given  # depth/k would need a refit
        for name in ("depth", "k"):
            self._controls_by_name[name].layout.display = "none" if fixed else None
        self._clear_selection()
        self._refresh()
        self._show_group_in_own_grid()

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
        if model["status"] != "ok":
            self._set_status(model["message"])
            return
        text = (
            f"BER {model['ber']:.1%} · ALER {model['aler']:.1%} · "
            f"{model['n_passing']} of {model['n_leaves']} leaves pass δ, τ"
        )
        if model["reason"]:
            text += f": {model['reason']}"
        if self.result_is_given:
            text = f"your tree (depth {model['depth']}, k {model['k']}) · {text}"
        self._set_status(text)

    def _drawn_selection(self) -> int:
        """The selected node for the drawing: -1 when none or not drawn (nothing to explain)."""
        drawn = {node["id"] for node in self.canvas.tree.get("nodes", ())}
        return self._selected_node if self._selected_node in drawn else -1

    def _show_group_in_own_grid(self) -> None:
        if not self._owns_grid:
            return
        who = "labelled" if self.grouping == "label" else "predicted as"
        if self.result_is_given:
            group, what = self._result.group, f"the given tree's images {who} {self.class_name}"
        else:
            group = self._trees.group(self.class_name, self.grouping)
            what = f"images {who} {self.class_name}{self._where}"
        group = self._evalset.errors_first(group)
        n_errors = int((~self._evalset.correct[group]).sum())
        errors = f"{n_errors} errors first" if n_errors else "no errors"
        hint = " — click a node to see its images" if self.canvas.tree["status"] == "ok" else ""
        self.grid.show(group, title=f"{len(group)} {what}, {errors}{hint}")

    # ------------------------------------------------------------------ public API
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

    def _describe(self, rule: str, class_name: str | None = None) -> str:
        if self.grouping == "prediction":
            return f"predicted as {class_name or self.class_name}: {rule}"
        return rule

    def _modes(self, class_names: list[str], thresholds: dict) -> list[FailureMode]:
        """Passing leaves of each class's tree (at the current grouping/depth/k; trees are
        fitted once and cached). When empty, its ``reason`` says why for each class: no tree
        (the status message), no errors to explain, or :meth:`BarlowResult.empty_reason`."""
        from dataclasses import replace

        delta, tau, grouping = thresholds["delta"], thresholds["tau"], self.grouping
        modes, reasons = [], []
        for name in class_names:
            r = self.fit(name)
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
                    m, description=self._describe(m.description, name), members=np.sort(m.members)
                )
                for m in found
            ]
        if len(class_names) == 1:
            return answer_list(modes, lambda: reasons[0][1] if reasons else "")
        return answer_list(
            modes,
            lambda: "; ".join(f"{name}: {why}" for name, why in reasons) or "no class was given",
        )

    def select(self, node: int) -> None:
        """Select tree node ``node``: highlight it, show its images in the grid (errors
        first), show its feature's visualisation and notify ``on_select``."""
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
        feature = node_feature(r, node)
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
            raise ValueError(f"feature: {NO_FEATURES}")
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
        rule = rule_features(r, node)
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
        self._worker.wait(timeout)

    def _visualize(self, feature: int | None) -> None:
        self._worker.cancel()  # a pending attack belongs to the previous panel
        self._panel_token += 1  # the browser ignores a panel older than the one it shows
        attack = self._model is not None and self._attack_steps > 0
        content, buffers, images = feature_panel(
            self._evalset, self._features, self._result, feature,
            node=self._selected_node, n_top=self._n_top, model=self._model, attack=attack,
        )  # fmt: skip
        content["token"] = self._panel_token
        self.canvas.send_visual(content, buffers)
        if content.get("attack") != "pending":
            return

        def compute():
            done = with_attack(
                content, buffers, images, self._model,
                steps=self._attack_steps, step_size=self._attack_step_size,
            )  # fmt: skip
            self.timings["attack"] = done[2]
            return done

        self._worker.submit(compute, lambda done: self.canvas.send_visual(done[0], done[1]))

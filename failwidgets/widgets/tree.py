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
from ..checks import check_positive
from ..data import EvalSet
from ..methods.barlow import NODE_COLUMNS, Barlow, BarlowResult
from ..modes import FailureMode
from ..viewmodels.tree import (
    NO_FEATURES,
    checked_model,
    feature_panel,
    group_title,
    node_feature,
    node_title,
    rule_features,
    tree_status,
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
        trees = Barlow(k=1, depth=depth, random_state=random_state).fit_classes(
            features, evalset, results=results, indices=indices, split=split, grouping=grouping
        )
        n_features = 20 if trees.features is None else trees.features.shape[1]
        given = {name: v for name, v in (("k", k), ("delta", delta), ("tau", tau)) if v is not None}
        settings = {"k": min(20, n_features), **trees.given_thresholds(), **given}
        trees = self._trees = trees.with_settings(**settings)
        self._features, self._rows, self._where = trees.features, trees.rows, trees.where
        self._n_top = _check_int(n_top, "n_top", 1, 50)
        self._attack_steps = _check_int(attack_steps, "attack_steps", 0)
        self._attack_step_size = check_positive(attack_step_size, "attack_step_size")
        n_features = None if self._features is None else self._features.shape[1]
        self._model = checked_model(model, evalset, n_features)
        self._result: BarlowResult | None = None
        self._status_message = ""
        self._selected_node: int | None = None
        self._panel_token = 0
        self.timings: dict[str, float] = {}

        self.grouping, self.depth, self.k = trees.grouping, trees.depth, trees.k
        self.delta, self.tau = trees.delta, trees.tau
        self.class_name = trees.default_class() if class_name is None else class_name
        self.add_class("fw-tree-view")
        self.canvas = TreeCanvas(on_node_click=self.select, on_feature=self._on_feature_click)
        self._controls = self._build_controls()
        self._finish_init()
        self._refit()
        self.children = [self._controls, self.canvas] + ([self.grid] if self._owns_grid else [])

    # ------------------------------------------------------------------ construction
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
    @validator("grouping", "depth", "k")
    def _valid_fit_setting(self, proposal):
        """Checked by :meth:`BarlowTrees.with_settings` (applied once the value is set)."""
        value = proposal["value"]
        self._trees.with_settings(**{proposal["trait"].name: value})
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
            self._trees = self._trees.with_settings(**{change["name"]: change["new"]})
            self._refit()

    # ------------------------------------------------------------------ fitting
    def fit(self, class_name: str | None = None, **settings) -> BarlowResult | str:
        """The tree of a class (default: the current one) at the current grouping/depth/k, or
        at the given ``grouping``/``depth``/``k``; fitted once and cached. A message string
        when the group cannot be explained by a tree (no images, all misclassified, too few).
        A given result (``results=``) is returned as is, whatever ``depth`` and ``k``."""
        trees = self._trees.with_settings(**settings) if settings else self._trees
        return trees.tree(self.class_name if class_name is None else class_name)

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
        self._set_status(tree_status(model, given=self.result_is_given))

    def _drawn_selection(self) -> int:
        """The selected node for the drawing: -1 when none or not drawn (nothing to explain)."""
        drawn = {node["id"] for node in self.canvas.tree.get("nodes", ())}
        return self._selected_node if self._selected_node in drawn else -1

    def _show_group_in_own_grid(self) -> None:
        if not self._owns_grid:
            return
        given = self.result_is_given
        group = self._result.group if given else self._trees.group(self.class_name)
        group = self._evalset.errors_first(group)
        title = group_title(
            group, self._evalset.correct, self.class_name, self.grouping,
            where=self._where, given=given, drawn=self.canvas.tree["status"] == "ok",
        )  # fmt: skip
        self.grid.show(group, title=title)

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
        return self._trees.is_given(self._result)

    @property
    def given_results(self) -> dict[tuple[str, str], BarlowResult]:
        """The given ``results`` keyed by (class name, grouping)."""
        return dict(self._trees.given)

    @property
    def selected_node(self) -> int | None:
        return self._selected_node

    @property
    def passing_leaves(self) -> pd.DataFrame:
        """Leaves passing ``delta``/``tau`` (node table columns), by decreasing IV."""
        r = self._result
        if r is None or r.nothing_to_explain:
            return pd.DataFrame(columns=NODE_COLUMNS)
        return r.failure_leaves(self.delta, self.tau)

    def _modes(self, class_names: list[str], thresholds: dict) -> list[FailureMode]:
        """Passing leaves of each class's tree at the current grouping/depth/k
        (:meth:`BarlowTrees.failure_modes`)."""
        return self._trees.failure_modes(class_names, **thresholds)

    def select(self, node: int) -> None:
        """Select tree node ``node``: highlight it, show its images in the grid (errors
        first), show its feature's visualisation and notify ``on_select``."""

        r = self._result
        if r is None:
            raise ValueError(f"node: no tree to select from ({self._status_message})")
        node = _check_int(node, "node", 0, r.n_nodes - 1)
        members = r.members(node, errors_first=True)
        mode = self._trees.node_mode(self.class_name, node)
        self._selected_node = node
        self._selected_members = mode.members
        self.canvas.selected_node = self._drawn_selection()
        feature = node_feature(r, node)
        scores = None
        if feature is not None and self._features is not None:
            scores = self._features[members, feature]
        self.grid.show(members, scores=scores, title=node_title(r, node, self.class_name))
        self._visualize(feature)
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

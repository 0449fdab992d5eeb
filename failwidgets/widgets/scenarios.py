"""ScenarioView: review Defuse's failure scenarios, label them, and correct the classifier.

A thin layer over :mod:`failwidgets.methods.defuse` (anywidget + ipywidgets):

- one row per scenario (a kept component of the Dirichlet-process mixture over misclassified
  latent codes): its weight, member codes and source images, the majority label of the source
  images, a strip of decoded samples ``z ~ N(mean, tau * cov)`` with the classifier's prediction
  on each, and the labeling controls (failure / not a failure, correct label);
- a ``tau`` slider (and a "new samples" button) that resamples every strip; each resampling
  bumps a version number and the browser drops strips of older versions, so the last value
  wins and no stale strip stays on screen;
- labels are written at once (atomically) to ``labels_path`` through
  :class:`~failwidgets.methods.scenario_labels.ScenarioLabels`; a view opened later on the
  same file and the same scenario set shows them again; a file of another scenario set is
  refused, never overwritten;
- a line above the rows shows the VAE check (Defuse's quality gate): the classifier's accuracy
  on the images and on their VAE reconstructions, as a warning when the reconstructions fare
  under half as well, and how many draws were VAE failures;
- "Correct classifier" (or :meth:`ScenarioView.correct`) finetunes copies of the classifier on
  the labelled failure scenarios, shows its progress in the status line ("correcting: λ=0.1
  (1/4), epoch 2/3, step 12/60") and then the before/after table and the trade-off chart.

Decoded samples travel as PNG bytes in binary buffers of a custom message, answering the
browser's request (as in :class:`~failwidgets.widgets.grid.ImageGrid`), so no image is stored in
the notebook's widget state.
"""

from __future__ import annotations

import html
import numbers
import os
import pathlib
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets

from ..checks import check_int
from ..data import EvalSet
from ..thresholds import spec as threshold_spec
from .grid import ImageGrid
from .guard import (
    BrowserMessageError,
    Checked,
    GuardedState,
    StrictInt,
    answer_errors,
    is_int,
    message_int,
    message_request_id,
    short_repr,
    validator,
)
from .selectable import Selectable
from .transport import pack_images

__all__ = ["ScenarioView", "ScenarioCanvas", "DEFAULT_FIT_SETTINGS", "DEFAULT_MAX_IMAGES"]

_STATIC = pathlib.Path(__file__).parent.parent / "static"
#: Defuse settings used when the view fits (the view favours speed; the paper's Q is 100).
DEFAULT_FIT_SETTINGS = {"n_samples": 20}
#: At most this many images of the split are identified around when the view fits.
DEFAULT_MAX_IMAGES = 500
TAU_RANGE = (0.01, 0.5)  # the slider's range (the paper's); tau itself may be any value in (0, 1]
MAX_SAMPLES_SHOWN = 64
MAX_THUMB_PIXELS = 128  # decoded samples larger than this are shrunk for the strip
#: The correction's progress replaces the status line at most this often (seconds) within one
#: epoch; a new stage, lambda or epoch shows at once.
PROGRESS_INTERVAL_S = 0.25
_UNSET = object()
_DEFAULT_SPLIT = object()


# ---------------------------------------------------------------------- validation
def _check_labels_path(labels_path) -> Path:
    if isinstance(labels_path, (bytes, bytearray)) or not isinstance(
        labels_path, (str, os.PathLike)
    ):
        raise TypeError(f"labels_path: expected a file path, got {type(labels_path).__name__}")
    path = Path(labels_path)
    if path.is_dir():
        raise ValueError(
            f"labels_path: {str(path)!r} is a folder; pass a file name such as "
            f"{str(path / 'defuse_labels.json')!r}"
        )
    return path


def _label_store(path: Path, scenarios, class_names, adopt: bool):
    """Open the label file of this scenario set; its errors name ``labels_path``."""
    from ..methods.scenario_labels import ScenarioLabels

    try:
        return ScenarioLabels(
            path,
            n_classes=len(class_names),
            scenario_ids=scenarios.ids,
            class_names=class_names,
            scenario_set=scenarios.fingerprint,
            adopt=adopt,
        )
    except (TypeError, ValueError) as error:
        message = str(error)
        message = message[len("path: ") :] if message.startswith("path: ") else message
        message = message.replace("adopt=True", "adopt_labels=True")  # the view's name for it
        raise ValueError(f"labels_path: {message}") from None


def _status_colour(error: bool) -> str:
    return "var(--jp-error-color1, #d32f2f)" if error else "var(--jp-ui-font-color1, #444)"


def _percent(value: float, digits: int = 1) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{100 * value:.{digits}f}%"


# ---------------------------------------------------------------------- the drawing
class ScenarioCanvas(GuardedState, anywidget.AnyWidget):
    """The scenario rows (browser side: ``js/src/scenarios.js``).

    ``view_model`` is built by :meth:`ScenarioView.view_model`; ``selected`` is the highlighted
    scenario id (-1: none); both are the kernel's (the browser may set no trait). The browser
    sends ``{"type": "select", "id"}``, ``{"type": "label", "id", "is_failure"?,
    "correct_label"?}`` and ``{"type": "strips", "ids", "request_id"}``; the last is answered
    with ``{"type": "strips", "request_id", "version", "mime", "strips": [{"id", "buffers"}]}``
    and one PNG buffer per decoded sample (each id once; at most one id per scenario). A label
    that cannot be stored is answered with ``{"type": "label_refused", "id", "error"}``; any
    other message that cannot be applied with ``{"type": "error", "request", "error"}``.
    """

    _esm = _STATIC / "scenarios.js"

    view_model = traitlets.Dict({}).tag(sync=True)
    selected = StrictInt(-1).tag(sync=True)

    def __init__(self, view: ScenarioView | None = None, **kwargs):
        super().__init__(**kwargs)
        self._view = view
        self.on_msg(self._on_message)

    @answer_errors
    def _on_message(self, widget, content, buffers) -> None:
        view = self._view
        if view is None:
            raise BrowserMessageError("message: this canvas belongs to no ScenarioView")
        kind = content.get("type")
        if kind == "strips":
            ids = content.get("ids")
            if not isinstance(ids, list) or not all(is_int(i) for i in ids):
                raise BrowserMessageError("ids: expected a list of scenario ids (integers)")
            request_id = message_request_id(content)
            try:
                reply, data = view.strips_payload(ids, request_id=request_id)
            except ValueError as error:
                raise BrowserMessageError(str(error)) from None
            reply, data = pack_images(reply, data)  # buffers, or data URLs (Colab)
            self.send(reply, buffers=data)
        elif kind == "select":
            view._select_from_browser(view._message_id(content))
        elif kind == "label":
            scenario_id = view._message_id(content)
            fields = {k: content[k] for k in ("is_failure", "correct_label") if k in content}
            if not fields:
                raise BrowserMessageError("label: give is_failure and/or correct_label")
            is_failure = fields.get("is_failure")
            if not (is_failure is None or isinstance(is_failure, bool)):
                raise BrowserMessageError(
                    f"is_failure: expected true, false or null, got {type(is_failure).__name__}"
                )
            correct_label = fields.get("correct_label")
            if not (
                correct_label is None or is_int(correct_label) or isinstance(correct_label, str)
            ):
                raise BrowserMessageError(
                    "correct_label: expected a class name, a class index or null, got "
                    f"{type(correct_label).__name__}"
                )
            view._label_from_browser(scenario_id, fields)
        else:
            raise BrowserMessageError(
                f"type: expected 'strips', 'select' or 'label', got {short_repr(kind)}"
            )


# ---------------------------------------------------------------------- the view
class ScenarioView(Selectable, widgets.VBox):
    """Defuse's failure scenarios of a classifier, one row each, with labeling and correction.

    Parameters
    ----------
    evalset : EvalSet
        The evaluated samples; Defuse identifies failures around the images of ``split``.
    classifier : torch module
        The classifier under inspection (logits ``(N, C)``; ``C`` = the EvalSet's classes).
    vae : BetaVAE or a VAE of your own
        A VAE trained on images like the EvalSet's (same image size): a
        :class:`~failwidgets.methods.vae.BetaVAE` or any module with ``encode`` / ``decode``
        of the shapes :mod:`failwidgets.methods.vae` documents ("Bring your own VAE"); it is
        checked on two of the images here.
    defuse : Defuse, optional
        An already fitted :class:`~failwidgets.methods.defuse.Defuse` (with this ``vae`` and
        ``classifier``) fitted on ``evalset.images_at(rows)``, ``rows`` being ``indices`` or
        the split's indices. Default: the view fits one (seconds to a minute; a progress bar
        shows), on at most ``max_images`` images of the split with ``fit_kwargs``.
    labels_path : str or path
        JSON file of the annotator's labels; reloaded when it exists (it must belong to this
        scenario set), rewritten atomically at every change.
    adopt_labels : bool
        Accept a ``labels_path`` whose labels carry no scenario-set fingerprint (e.g. written
        by hand or by an older version) as labels of this scenario set; the file is stamped
        with its fingerprint at the next change. Without it such a file is refused, since its
        labels may belong to another distillation. A file of another scenario set is always
        refused.
    preprocess : callable, optional
        The classifier's own transform of [0, 1] float images (default: the given Defuse's).
    grid : ImageGrid, optional
        Where a selected scenario's source images are shown; default: the view's own grid.
    n_samples_shown : int
        Decoded samples per strip (1..64).
    tau : float in (0, 1]
        Sample spread: ``z ~ N(mean, tau * cov)`` (the slider spans 0.01 to 0.5).
    split : str or None
        Split whose images Defuse identifies around. Default: ``"val"`` when the EvalSet has
        a val split, else all images; None: all images.
    class_name : str, optional
        Show only scenarios whose majority label is this class (None: all).
    fit_kwargs : dict, optional
        Settings of the :class:`Defuse` the view fits (``n_samples``, ``a``, ``b``,
        ``max_per_image``, ``max_components``, ``seed``, ...), over
        :data:`DEFAULT_FIT_SETTINGS` (``n_samples=20``; the paper uses 100).
    indices : array-like of int, optional
        EvalSet indices of the images to identify around (instead of ``split``).
    max_images : int or None
        When the view fits: identify around a seeded random subset of at most this many of
        the images (None: all). Not applied to a given ``defuse``.

    Attributes
    ----------
    tau, class_name : observable; setting ``tau`` resamples every strip, ``class_name``
        filters the rows.
    defuse : the fitted :class:`Defuse`; ``scenarios`` its :class:`ScenarioSet`.
    labels : the :class:`~failwidgets.methods.scenario_labels.ScenarioLabels` store.
    rows : EvalSet indices of the images Defuse identified around (``identification_``
        image ``i`` is EvalSet sample ``rows[i]``).
    selected_scenario : id of the selected scenario, or None.
    selected_members : EvalSet indices of the selected scenario's source images.
    correction_ : the last :class:`CorrectionResult` (after :meth:`correct`).

    Notes
    -----
    :meth:`failure_modes` lists every scenario the annotator has not marked "not a failure"
    (each scenario is made of misclassified codes, so it is a failure candidate until
    reviewed); ``confirmed_only=True`` keeps only those marked failures. A mode's members are
    the scenario's source images; its accuracy is the classifier's accuracy on them and its
    drop the class accuracy (over ``rows``) minus it.
    """

    tau = Checked(0.1)
    class_name = Checked(None)

    def __init__(
        self,
        evalset: EvalSet,
        classifier,
        vae,
        *,
        defuse=None,
        labels_path="defuse_labels.json",
        adopt_labels: bool = False,
        preprocess: Callable | None = None,
        grid: ImageGrid | None = None,
        n_samples_shown: int = 8,
        tau: float = threshold_spec("defuse", "tau").default,
        split=_DEFAULT_SPLIT,
        class_name: str | None = None,
        fit_kwargs: Mapping | None = None,
        indices=None,
        max_images: int | None = DEFAULT_MAX_IMAGES,
        **kwargs,
    ):
        from ..methods.defuse import Defuse

        if not isinstance(evalset, EvalSet):
            raise TypeError(f"evalset: expected an EvalSet, got {type(evalset).__name__}")
        if not callable(classifier):
            raise TypeError(
                f"classifier: expected a callable torch module, got {type(classifier).__name__}"
            )
        from ..methods.vae import CheckedVAE

        checked_vae = CheckedVAE(vae)  # TypeError naming vae without encode / decode
        if preprocess is not None and not callable(preprocess):
            raise TypeError(
                f"preprocess: expected a callable or None, got {type(preprocess).__name__}"
            )
        if grid is not None and not isinstance(grid, ImageGrid):
            raise TypeError(f"grid: expected an ImageGrid or None, got {type(grid).__name__}")
        if grid is not None and grid.evalset is not evalset:
            raise ValueError("grid: the ImageGrid shows another EvalSet; pass one over `evalset`")
        if defuse is not None and not isinstance(defuse, Defuse):
            raise TypeError(
                f"defuse: expected a fitted Defuse or None, got {type(defuse).__name__}"
            )
        if fit_kwargs is not None:
            if defuse is not None:
                raise ValueError(
                    "fit_kwargs: only used when the view fits Defuse; the given defuse is fitted"
                )
            if not isinstance(fit_kwargs, Mapping):
                raise TypeError(
                    f"fit_kwargs: expected a dict of Defuse settings, got {type(fit_kwargs).__name__}"
                )
        if max_images is not None:
            max_images = check_int(max_images, "max_images", 1)
        self._n_shown = check_int(n_samples_shown, "n_samples_shown", 1, MAX_SAMPLES_SHOWN)
        tau = threshold_spec("defuse", "tau").check(tau)
        path = _check_labels_path(labels_path)
        if not isinstance(adopt_labels, (bool, np.bool_)):
            raise TypeError(
                f"adopt_labels: expected True or False, got {type(adopt_labels).__name__}"
            )
        self._evalset = evalset
        self._classifier = classifier
        self._vae = vae
        rows = self._fit_rows(evalset, split, indices)
        self._check_image_size(evalset, rows, checked_vae)
        self._checked_vae = checked_vae
        if class_name is not None:
            self._check_class(class_name)

        if defuse is None:
            defuse, rows = self._fit(rows, preprocess, fit_kwargs, max_images)
        else:
            self._check_defuse(defuse, rows, preprocess)
            if preprocess is None:
                preprocess = defuse.preprocess
        self._defuse = defuse
        self._preprocess = preprocess
        self._rows = rows
        self._rows.flags.writeable = False
        self._identification = defuse.identification_
        self._scenarios = defuse.scenarios_
        n_classes = self._identification.n_classes
        if n_classes is not None and n_classes != evalset.n_classes:
            raise ValueError(
                f"classifier: it predicts {n_classes} classes, the EvalSet has {evalset.n_classes}"
            )
        self.labels = _label_store(path, self._scenarios, evalset.class_names, bool(adopt_labels))
        self._seed = int(defuse.seed)
        self._members = {s.id: self._member_rows(s) for s in self._scenarios}
        self._class_accuracy = self._accuracy_by_class()
        self._draw = 0  # bumped by resample(): a new random stream for the samples
        self._version = 0  # bumped whenever the samples change (tau, resample)
        self._samples: dict[int, object] = {}
        self._thumbs: dict[int, list[bytes]] = {}
        self._selected: int | None = None
        self._selected_members = np.zeros(0, dtype=np.int64)
        self._syncing = False
        self._ready = False
        # the status line has two parts: the correction's ("finetuning…", "corrected with…"),
        # kept until the next correction, and a note on the last action (an error), which a
        # refresh clears
        self._status_parts = {"task": ("", False), "note": ("", False)}
        self._status_lock = threading.RLock()  # an observer of the line may read `status`
        self._progress_key, self._progress_time = None, 0.0
        self.correction_ = None
        self._correction_thread: threading.Thread | None = None

        super().__init__(**kwargs)
        self.add_class("fw-scenario-view")
        self._owns_grid = grid is None
        self.grid = ImageGrid(evalset, [], page_size=50, thumb_size=80) if grid is None else grid
        self.canvas = ScenarioCanvas(self)
        self._build_controls()
        self.set_trait("tau", tau)
        self.set_trait("class_name", class_name)
        self._sync_controls()
        self._ready = True
        self._refresh()
        if self._owns_grid:
            self.grid.show(
                [], title="Click a scenario to see the source images of its failing codes"
            )
        self._show_quality()
        children = [self._controls, self._quality, self.canvas, self._correction_box]
        if self._owns_grid:
            children.append(self.grid)
        self.children = children

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _fit_rows(evalset: EvalSet, split, indices) -> np.ndarray:
        if indices is not None:
            if split is not _DEFAULT_SPLIT:
                raise ValueError("indices: pass either indices or split, not both")
            if isinstance(indices, (str, bytes)) or np.isscalar(indices):
                raise TypeError(
                    f"indices: expected a sequence of sample indices, got {type(indices).__name__}"
                )
            rows = evalset.check_indices(indices, name="indices")
        elif split is _DEFAULT_SPLIT:
            has_val = evalset.split is not None and bool(np.any(evalset.split == "val"))
            rows = evalset.split_indices("val") if has_val else np.arange(evalset.n)
        elif split is None:
            rows = np.arange(evalset.n)
        else:
            if not isinstance(split, str):
                raise TypeError(f"split: expected a split name or None, got {type(split).__name__}")
            if evalset.split is None:
                raise ValueError("split: the EvalSet has no split column; pass split=None")
            if not np.any(evalset.split == split):
                present = sorted(set(evalset.split.tolist()))
                raise ValueError(f"split: no samples in split {split!r}; splits present: {present}")
            rows = evalset.split_indices(split)
        if len(rows) == 0:
            raise ValueError("indices: no images to identify failures around")
        return np.asarray(rows, dtype=np.int64).copy()

    @staticmethod
    def _check_image_size(evalset: EvalSet, rows: np.ndarray, vae) -> None:
        """The EvalSet's images fit the VAE, and the VAE keeps its contract on two of them."""
        height, width = evalset.image(int(rows[0])).shape[:2]
        if vae.image_shape is not None and (height, width) != vae.image_shape[1:]:
            size_h, size_w = vae.image_shape[1:]
            raise ValueError(
                f"evalset: its images are {height}x{width} pixels but the VAE was built for "
                f"{size_h}x{size_w} images (vae.config.image_size={size_h}); resize the images or "
                f"train a VAE with image_size={height}"
            )
        vae.probe(evalset.images_at(rows[:2]))

    def _fit(self, rows, preprocess, fit_kwargs, max_images):
        from ..methods.defuse import Defuse

        settings = {**DEFAULT_FIT_SETTINGS, **(dict(fit_kwargs) if fit_kwargs else {})}
        try:
            defuse = Defuse(self._vae, self._classifier, preprocess=preprocess, **settings)
        except TypeError as error:
            raise TypeError(f"fit_kwargs: {error}") from None
        if max_images is not None and len(rows) > max_images:
            rng = np.random.default_rng(int(settings.get("seed", 0)))
            rows = np.sort(rng.choice(rows, size=max_images, replace=False))
        images = self._evalset.images_at(rows)
        defuse.fit(images, self._evalset.labels[rows])
        return defuse, rows

    def _check_defuse(self, defuse, rows, preprocess) -> None:
        if not hasattr(defuse, "scenarios_"):
            raise ValueError("defuse: the Defuse is not fitted; call fit(images, labels) first")
        if defuse.vae is not self._vae:
            raise ValueError("defuse: it was fitted with another VAE; pass the same `vae`")
        if defuse.classifier is not self._classifier:
            raise ValueError("defuse: it was fitted with another classifier; pass the same one")
        if preprocess is not None and defuse.preprocess is not preprocess:
            raise ValueError("preprocess: differs from the given defuse's preprocess")
        identification = defuse.identification_
        if identification.n_images != len(rows):
            raise ValueError(
                f"defuse: it was fitted on {identification.n_images} images but {len(rows)} are "
                "selected; fit it on evalset.images_at(rows) of the same split (or pass indices=)"
            )
        expected = self._evalset.labels[rows][identification.image_index]
        if not np.array_equal(identification.labels, expected):
            raise ValueError(
                "defuse: the labels it was fitted with differ from the EvalSet's at the selected "
                "images; fit it on the same images, in the same order"
            )

    def _member_rows(self, scenario) -> np.ndarray:
        positions = self._identification.image_index[scenario.member_index]
        return np.unique(self._rows[positions])

    def _accuracy_by_class(self) -> np.ndarray:
        labels = self._evalset.labels[self._rows]
        correct = self._evalset.correct[self._rows]
        totals = np.bincount(labels, minlength=self._evalset.n_classes)
        hits = np.bincount(labels, weights=correct, minlength=self._evalset.n_classes)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals > 0, hits / np.maximum(totals, 1), np.nan)

    def _build_controls(self) -> None:
        names = self._evalset.class_names
        self._class_dropdown = widgets.Dropdown(
            options=[("all classes", "")] + [(name, name) for name in names],
            description="class",
            layout=widgets.Layout(width="220px"),
            style={"description_width": "40px"},
        )
        self._class_dropdown.add_class("fw-scenarios-class")
        self._class_dropdown.observe(self._dropdown_changed, names="value")
        self._tau_slider = widgets.FloatSlider(
            min=TAU_RANGE[0],
            max=TAU_RANGE[1],
            step=0.01,
            readout_format=".2f",
            description=threshold_spec("defuse", "tau").label,
            tooltip=threshold_spec("defuse", "tau").doc,
            continuous_update=threshold_spec("defuse", "tau").continuous,
            layout=widgets.Layout(width="260px"),
            style={"description_width": "20px"},
        )
        self._tau_slider.add_class("fw-scenarios-tau")
        self._tau_slider.observe(self._slider_changed, names="value")
        self._resample_button = widgets.Button(
            description="New samples",
            icon="refresh",
            tooltip="draw new samples of every scenario (same τ)",
            layout=widgets.Layout(width="auto"),
        )
        self._resample_button.add_class("fw-scenarios-resample")
        self._resample_button.on_click(lambda _: self.resample())
        self._correct_button = widgets.Button(
            description="Correct classifier",
            icon="wrench",
            tooltip="finetune copies of the classifier on the labelled failure scenarios "
            "(lambda sweep); shows test and scenario accuracy before and after",
            layout=widgets.Layout(width="auto"),
        )
        self._correct_button.add_class("fw-scenarios-correct")
        self._correct_button.on_click(self._on_correct_click)
        self._status = widgets.HTML(layout=widgets.Layout(margin="0 0 0 8px"))
        self._status.add_class("fw-scenarios-status")
        self._controls = widgets.HBox(
            [
                self._class_dropdown,
                self._tau_slider,
                self._resample_button,
                self._correct_button,
                self._status,
            ],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        self._correction_table = widgets.HTML()
        self._correction_table.add_class("fw-scenarios-correction")
        self._correction_box = widgets.VBox([self._correction_table])
        self._quality = widgets.HTML(layout=widgets.Layout(margin="2px 0 4px 0"))
        self._quality.add_class("fw-scenarios-quality")

    # ------------------------------------------------------------------ validation
    def _check_class(self, value) -> str:
        if not isinstance(value, str):
            raise TypeError(
                f"class_name: expected a class name or None, got {type(value).__name__}"
            )
        if value not in self._evalset.class_names:
            raise ValueError(
                f"class_name: unknown class {value!r}; known: {list(self._evalset.class_names)[:10]}"
            )
        return value

    @validator("tau")
    def _valid_tau(self, proposal):
        return threshold_spec("defuse", "tau").check(proposal["value"])

    @validator("class_name")
    def _valid_class(self, proposal):
        value = proposal["value"]
        return None if value is None else self._check_class(value)

    # ------------------------------------------------------------------ reactions
    @traitlets.observe("tau")
    def _on_tau(self, change):
        self._sync_controls()
        if self._ready:
            self._new_samples()

    @traitlets.observe("class_name")
    def _on_class_name(self, change):
        self._sync_controls()
        if not self._ready:
            return
        if self._selected is not None and self._selected not in self._shown_ids():
            self._clear_selection()
        self._refresh()

    def _sync_controls(self) -> None:
        if not hasattr(self, "_tau_slider"):
            return
        self._syncing = True
        try:
            slider = self._tau_slider
            slider.min = min(TAU_RANGE[0], self.tau)
            slider.max = max(TAU_RANGE[1], self.tau)
            slider.value = self.tau
            self._class_dropdown.value = self.class_name or ""
        finally:
            self._syncing = False

    def _slider_changed(self, change):
        if self._syncing:
            return
        try:
            self.tau = change["new"]
        except (TypeError, ValueError) as error:
            self._set_status(str(error), error=True)

    def _dropdown_changed(self, change):
        if not self._syncing:
            self.class_name = change["new"] or None

    def _message_id(self, content: dict) -> int:
        """The scenario id of a browser message; BrowserMessageError when it names none."""
        scenario_id = message_int(content, "id")
        if scenario_id not in self._members:
            raise BrowserMessageError(
                f"id: {scenario_id} is not one of the {len(self._members)} scenario ids"
            )
        return scenario_id

    def _select_from_browser(self, scenario_id: int) -> None:
        self.select(scenario_id)

    def _label_from_browser(self, scenario_id: int, fields: dict) -> None:
        try:
            self.set_label(scenario_id, **fields)
        except (TypeError, ValueError, OSError) as error:
            text = f"scenario {scenario_id}: label not saved ({error})"
            self._set_status(text, error=True)
            # the browser puts the stored label back on its controls and says why
            self.canvas.send({"type": "label_refused", "id": scenario_id, "error": text})

    def _on_correct_click(self, button) -> None:
        """Run the correction on a worker thread: the kernel keeps answering the view meanwhile."""
        if self.correcting:
            return
        self._correct_button.disabled = True
        self._set_status(
            "finetuning the classifier on the labelled failure scenarios (minutes on a CPU; "
            "the view stays usable)…",
            task=True,
        )

        def work() -> None:
            try:
                self.correct(progress=False)
            except (TypeError, ValueError, RuntimeError) as error:
                self._set_status(f"correction: {error}", error=True, task=True)
            except Exception as error:  # noqa: BLE001 - a worker thread must report, not die
                self._set_status(
                    f"correction failed: {type(error).__name__}: {error}", error=True, task=True
                )
            finally:
                self._correct_button.disabled = False

        self._correction_thread = threading.Thread(
            target=work, name="fw-defuse-correction", daemon=True
        )
        self._correction_thread.start()

    @property
    def correcting(self) -> bool:
        """True while a correction started by the button is running."""
        return self._correction_thread is not None and self._correction_thread.is_alive()

    def wait_correction(self, timeout: float | None = None):
        """Wait for a correction started by the button; return its result (None if none ran)."""
        if self._correction_thread is not None:
            self._correction_thread.join(timeout)
        return self.correction_

    # ------------------------------------------------------------------ public API
    @property
    def evalset(self) -> EvalSet:
        return self._evalset

    @property
    def defuse(self):
        return self._defuse

    @property
    def scenarios(self):
        """The :class:`~failwidgets.methods.defuse.ScenarioSet` shown."""
        return self._scenarios

    @property
    def rows(self) -> np.ndarray:
        return self._rows

    @property
    def labels_path(self) -> Path:
        return self.labels.path

    @property
    def n_samples_shown(self) -> int:
        return self._n_shown

    @property
    def sample_version(self) -> int:
        """Increases whenever the strips are resampled (``tau`` or :meth:`resample`)."""
        return self._version

    @property
    def status(self) -> str:
        """The status line: the correction's state and the note on the last action (an error)."""
        with self._status_lock:
            return " · ".join(text for text, _ in self._status_parts.values() if text)

    @property
    def selected_scenario(self) -> int | None:
        return self._selected

    @property
    def selected_members(self) -> np.ndarray:
        view = self._selected_members.view()
        view.flags.writeable = False
        return view

    def members(self, scenario_id: int) -> np.ndarray:
        """EvalSet indices (ascending) of the source images of a scenario's member codes."""
        return self._members[self._check_id(scenario_id)].copy()

    def set_class(self, name: str | None) -> None:
        """Show only scenarios whose majority label is ``name`` (None: all scenarios)."""
        self.class_name = name

    def resample(self) -> None:
        """Draw new samples of every scenario (a new random stream, the same ``tau``)."""
        self._draw += 1
        self._new_samples()

    def samples(self, scenario_id: int):
        """The :class:`ScenarioSamples` shown for a scenario at the current ``tau``."""
        from ..methods.defuse import sample_scenario

        scenario_id = self._check_id(scenario_id)
        if scenario_id not in self._samples:
            self._samples[scenario_id] = sample_scenario(
                self._scenarios[scenario_id],
                self._checked_vae,
                self._classifier,
                n=self._n_shown,
                tau=self.tau,
                preprocess=self._preprocess,
                seed=self._seed + self._draw,
            )
        return self._samples[scenario_id]

    def set_label(self, scenario_id: int, *, is_failure=_UNSET, correct_label=_UNSET):
        """Label a scenario and write the label file at once.

        ``is_failure``: True, False or None (not reviewed); ``correct_label``: a class name,
        a class index or None. Fields left out keep their value. Returns the stored label.
        """
        scenario_id = self._check_id(scenario_id)
        fields = {}
        if is_failure is not _UNSET:
            fields["is_failure"] = is_failure
        if correct_label is not _UNSET:
            if isinstance(correct_label, str):
                correct_label = self._evalset.class_index(self._check_class(correct_label))
            fields["correct_label"] = correct_label
        label = self.labels.set(scenario_id, **fields)
        self._refresh()
        return label

    def clear_label(self, scenario_id: int) -> None:
        """Forget a scenario's label (written at once)."""
        self.labels.clear(self._check_id(scenario_id))
        self._refresh()

    def select(self, scenario_id: int) -> None:
        """Select a scenario: highlight its row, show its source images in the grid (errors
        first) and notify ``on_select`` with its :class:`~failwidgets.modes.FailureMode`."""
        scenario_id = self._check_id(scenario_id)
        mode = self._failure_mode(self._scenarios[scenario_id])
        members = mode.members
        self._selected = scenario_id
        self._selected_members = members.copy()
        self.canvas.selected = scenario_id
        shown = members[np.argsort(self._evalset.correct[members], kind="stable")]
        n_errors = int(np.count_nonzero(~self._evalset.correct[members]))
        self.grid.show(
            shown,
            title=(
                f"Defuse {mode.description} — {len(members)} source images of its failing codes, "
                f"{n_errors} misclassified"
            ),
        )
        self._notify_select(mode)

    def failure_modes(self, class_name: str | None = None, *, confirmed_only: bool = False):
        """One :class:`~failwidgets.modes.FailureMode` per scenario (see the class notes).

        Scenarios marked "not a failure" are left out; with ``confirmed_only`` only those
        marked failures are kept. All classes by default, or only ``class_name``.
        """
        if class_name is not None:
            self._check_class(class_name)
        modes = []
        for scenario in self._scenarios:
            verdict = self.labels.get(scenario.id).is_failure
            if verdict is False or (confirmed_only and verdict is not True):
                continue
            mode = self._failure_mode(scenario)
            if class_name is None or mode.class_name == class_name:
                modes.append(mode)
        return modes

    def scenario_table(self):
        """The scenarios as a DataFrame: the engine's columns, class names, source images,
        the current samples' top prediction and the labels."""
        import pandas as pd

        frame = self._scenarios.to_frame()
        names = self._evalset.class_names

        def name(c):
            return None if c is None or pd.isna(c) else names[int(c)]

        frame["majority_class"] = [name(c) for c in frame["majority_label"]]
        frame["top_prediction_class"] = [name(c) for c in frame["top_prediction"]]
        frame["n_images"] = [len(self._members[i]) for i in frame.index]
        frame["is_failure"] = [self.labels.get(int(i)).is_failure for i in frame.index]
        frame["correct_label"] = [name(self.labels.get(int(i)).correct_label) for i in frame.index]
        return frame

    def correct(self, **kwargs):
        """Finetune copies of the classifier on the labelled failure scenarios.

        Calls :func:`~failwidgets.methods.defuse.correct_classifier` with the label store and
        shows its before/after table and trade-off chart under the rows. Training, test and
        validation images default to the EvalSet's ``train``, ``test`` and ``val`` splits;
        ``preprocess``, ``tau`` and ``seed`` to the view's. Any keyword of
        ``correct_classifier`` may be given. Returns the :class:`CorrectionResult`.
        """
        from ..methods.defuse import correct_classifier

        data = {}
        for role in ("train", "test", "val"):
            images_key, labels_key = f"{role}_images", f"{role}_labels"
            if images_key in kwargs or labels_key in kwargs:
                continue
            has = self._evalset.split is not None and bool(np.any(self._evalset.split == role))
            if has:
                rows = self._evalset.split_indices(role)
                data[images_key] = self._evalset.images_at(rows)
                data[labels_key] = self._evalset.labels[rows]
            elif role != "val":
                raise ValueError(
                    f"correct: the EvalSet has no {role!r} split; pass {images_key}= and {labels_key}="
                )
        settings = {
            "preprocess": self._preprocess,
            "tau": self.tau,
            "seed": self._seed,
            "progress": True,
        }
        settings.update(data)
        settings.update(kwargs)
        user_callback = settings.pop("on_progress", None)
        if user_callback is not None and not callable(user_callback):
            raise TypeError(
                f"on_progress: expected a callable or None, got {type(user_callback).__name__}"
            )

        def on_progress(progress) -> None:
            self._show_progress(progress)
            if user_callback is not None:
                user_callback(progress)

        self._progress_key, self._progress_time = None, 0.0
        try:
            result = correct_classifier(
                self._classifier,
                self._checked_vae,
                self._scenarios,
                self.labels,
                on_progress=on_progress,
                **settings,
            )
        except Exception as error:
            self._set_status(f"correction stopped: {error}", error=True, task=True)
            raise
        self.correction_ = result
        self._show_correction(result)
        self._set_status(
            f"corrected with lambda = {result.best_lambda:g} on {result.n_scenarios} labelled "
            "failure scenarios (table below)",
            task=True,
        )
        return result

    # ------------------------------------------------------------------ the view model
    def _check_id(self, scenario_id) -> int:
        if isinstance(scenario_id, bool) or not isinstance(scenario_id, numbers.Integral):
            raise TypeError(f"scenario_id: expected an integer, got {type(scenario_id).__name__}")
        scenario_id = int(scenario_id)
        if scenario_id not in self._members:
            raise ValueError(
                f"scenario_id: {scenario_id} is not one of the {len(self._members)} scenario ids"
            )
        return scenario_id

    def _shown_ids(self) -> list[int]:
        if self.class_name is None:
            return [s.id for s in self._scenarios]
        c = self._evalset.class_index(self.class_name)
        return [s.id for s in self._scenarios if s.majority_label == c]

    def _class_of(self, scenario) -> str:
        c = scenario.majority_label
        return self._evalset.class_names[c] if c is not None else "?"

    def _failure_mode(self, scenario):
        """The scenario's images as a FailureMode; ``drop`` is the accuracy of the images
        labelled with its majority class (in the analysed rows) minus theirs. Its ``rule``
        re-applies it: the class's images whose VAE code falls in its mixture component."""
        from ..modes import FailureMode
        from ..rules import MixtureRule, vae_encoder

        members = self._members[scenario.id]
        top = scenario.top_prediction
        predicted = self._evalset.class_names[top] if top is not None else "?"
        name = self._class_of(scenario)
        rule = None
        mixture = self._scenarios.mixture
        vae = self._checked_vae
        if scenario.majority_label is not None and vae is not None and mixture is not None:
            encoder = self.__dict__.get("_rule_encoder")
            if encoder is None:  # one encoder per view: each image is encoded once
                encoder = self.__dict__["_rule_encoder"] = vae_encoder(vae)
            rule = MixtureRule.from_vae(encoder, mixture, scenario.component, name)
        return FailureMode.from_members(
            "defuse",
            name,
            f"scenario {scenario.id}: {name} → predicted {predicted}",
            members.copy(),
            self._evalset,
            reference_indices=self._rows,
            grouping="label" if scenario.majority_label is not None else None,
            rule=rule,
        )

    def _row(self, scenario, max_weight: float) -> dict:
        names = self._evalset.class_names
        label = self.labels.get(scenario.id)
        samples = self.samples(scenario.id)
        predictions = samples.predictions.astype(int)
        confidence = samples.probabilities[np.arange(len(predictions)), predictions]
        reference = (
            label.correct_label if label.correct_label is not None else scenario.majority_label
        )
        counts = np.bincount(predictions, minlength=len(names))
        top = int(np.argmax(counts))  # ties: the lowest class index
        n = len(predictions)
        n_wrong = int(np.sum(predictions != reference)) if reference is not None else 0
        code_top = scenario.top_prediction
        return {
            "id": scenario.id,
            "weight": float(scenario.weight),
            "weight_text": _percent(scenario.weight),
            "weight_share": float(scenario.weight / max_weight) if max_weight > 0 else 0.0,
            "n_codes": int(scenario.n_members),
            "n_images": int(len(self._members[scenario.id])),
            "majority_label": scenario.majority_label,
            "majority_name": self._class_of(scenario),
            "code_prediction": names[code_top] if code_top is not None else None,
            "reference_name": names[reference] if reference is not None else None,
            "samples": [
                {
                    "prediction": names[p],
                    "confidence": round(float(q), 4),
                    "wrong": reference is not None and p != reference,
                }
                for p, q in zip(predictions.tolist(), confidence.tolist())
            ],
            "top_prediction": names[top],
            "top_count": int(counts[top]),
            "n_wrong": n_wrong,
            "predicted_text": f"predicted: {names[top]} {int(counts[top])}/{n}",
            "is_failure": label.is_failure,
            "correct_label": label.correct_label,
        }

    def view_model(self) -> dict:
        """The browser's view model (JSON-ready): the shown rows and the view's settings.

        Keys: ``rows`` (one dict per shown scenario: ``id``, ``weight``, ``weight_text``,
        ``weight_share``, ``n_codes``, ``n_images``, ``majority_label``/``majority_name``,
        ``code_prediction``, ``reference_name`` (the correct label when given, else the
        majority label), ``samples`` (``prediction``, ``confidence``, ``wrong``),
        ``top_prediction``, ``top_count``, ``n_wrong``, ``predicted_text``, ``is_failure``,
        ``correct_label``), ``class_names``, ``class_name``, ``tau``, ``n_samples``,
        ``sample_version``, ``image_size``, ``n_scenarios``, ``n_labelled``, ``n_failures``,
        ``labels_path``, ``message``, ``quality`` (the VAE check: ``original_accuracy``,
        ``reconstruction_accuracy``, ``passed``, ``n_vae_failure_images``,
        ``n_vae_failing_draws``, ``vae_failures``, ``text``; None when not measured).
        """
        shown = self._shown_ids()
        weights = [s.weight for s in self._scenarios]
        max_weight = max(weights) if weights else 0.0
        rows = [self._row(self._scenarios[i], max_weight) for i in shown]
        labelled = self.labels.items()
        if self._scenarios.is_empty:
            message = self._scenarios.message
        elif not rows:
            message = (
                f"No scenario has majority label {self.class_name!r}; "
                f"{len(self._scenarios)} scenarios in other classes."
            )
        else:
            message = ""
        return {
            "rows": rows,
            "class_names": list(self._evalset.class_names),
            "class_name": self.class_name,
            "tau": self.tau,
            "n_samples": self._n_shown,
            "sample_version": self._version,
            "image_size": int(self._checked_vae.image_size),
            "quality": self._quality_model(),
            "n_scenarios": len(self._scenarios),
            "n_labelled": len(labelled),
            "n_failures": sum(1 for _, label in labelled if label.is_failure),
            "labels_path": str(self.labels.path),
            "message": message,
        }

    def strips_payload(self, ids, request_id=None) -> tuple[dict, list[bytes]]:
        """The message and PNG buffers answering the browser's request for ``ids``' strips.

        Each id is answered once (repeats are dropped) and unknown ids are skipped. A request
        may name at most one id per scenario: a longer one raises ValueError naming ``ids``
        (nothing is decoded). ``version`` is the current :attr:`sample_version`; the browser
        drops answers of another version than the one it shows.
        """
        from ..thumbnails import encode_thumbnails

        if isinstance(ids, (str, bytes)) or not hasattr(ids, "__len__"):
            raise TypeError(f"ids: expected a list of scenario ids, got {type(ids).__name__}")
        limit = len(self._members)
        if len(ids) > limit:
            raise ValueError(
                f"ids: {len(ids)} ids in one request, but the view has {limit} scenarios; "
                "ask for each scenario at most once"
            )
        strips, buffers = [], []
        for scenario_id in dict.fromkeys(ids):  # each id once, in order
            if scenario_id not in self._members:
                continue
            if scenario_id not in self._thumbs:
                images = self.samples(scenario_id).images
                self._thumbs[scenario_id] = encode_thumbnails(
                    images, size=MAX_THUMB_PIXELS, format="png", n_jobs=1
                )
            thumbs = self._thumbs[scenario_id]
            strips.append(
                {
                    "id": scenario_id,
                    "buffers": list(range(len(buffers), len(buffers) + len(thumbs))),
                }
            )
            buffers.extend(thumbs)
        content = {
            "type": "strips",
            "request_id": request_id,
            "version": self._version,
            "mime": "image/png",
            "strips": strips,
        }
        return content, buffers

    def _new_samples(self) -> None:
        self._samples.clear()
        self._thumbs.clear()
        self._version += 1
        self._refresh()

    def _refresh(self) -> None:
        if not self._ready:
            return
        model = self.view_model()
        with self.canvas.hold_sync():
            self.canvas.view_model = model
            self.canvas.selected = -1 if self._selected is None else self._selected
        self._set_status("")  # the last action worked: its note goes; the correction's stays

    def _clear_selection(self) -> None:
        self._selected = None
        self._selected_members = np.zeros(0, dtype=np.int64)
        self.canvas.selected = -1

    def _set_status(self, text: str, error: bool = False, *, task: bool = False) -> None:
        """Set the correction's part of the status line (``task``) or the note on the last
        action; the line shows both."""
        with self._status_lock:  # the correction's worker thread writes here too
            self._status_parts["task" if task else "note"] = (text, error)
            parts = [part for part in self._status_parts.values() if part[0]]
            self._status.value = " · ".join(
                f'<span style="color: {_status_colour(is_error)}">{html.escape(part)}</span>'
                for part, is_error in parts
            )

    def _show_progress(self, progress) -> None:
        """The correction's :class:`~failwidgets.methods.defuse.CorrectionProgress` in the status
        line ("correcting: λ=0.1 (2/4), epoch 2/3, step 12/60"), at most every
        :data:`PROGRESS_INTERVAL_S` within an epoch."""
        now = time.monotonic()
        key = (progress.stage, progress.lam, progress.epoch)
        if key == self._progress_key and now - self._progress_time < PROGRESS_INTERVAL_S:
            return
        self._progress_key, self._progress_time = key, now
        self._set_status(
            f"correcting: {progress.text} ({100 * progress.fraction:.0f}% of the finetuning)",
            task=True,
        )

    # ------------------------------------------------------------------ the VAE check
    @property
    def quality(self):
        """The :class:`~failwidgets.methods.defuse.ReconstructionQuality` of the images Defuse
        identified around (None for an identification made without the check)."""
        return self._identification.quality

    def _quality_model(self) -> dict | None:
        quality = self.quality
        if quality is None:
            return None
        identification = self._identification
        return {
            **quality.as_dict(),
            "n_vae_failing_draws": int(identification.n_vae_failing_draws),
            "vae_failures": identification.vae_failures,
            "text": self._quality_text(),
        }

    def _quality_text(self) -> str:
        quality = self.quality
        if quality is None:
            return "VAE check: not measured (the Defuse was fitted without it)"
        identification = self._identification
        text = (
            f"VAE check: the classifier gets {_percent(quality.original_accuracy)} of the "
            f"{quality.n_images} images right and {_percent(quality.reconstruction_accuracy)} "
            "of their VAE reconstructions"
        )
        if quality.passed:
            text += "."
        else:
            text += (
                f", under {quality.min_ratio:g} x: decoded samples look like failures for that "
                "reason alone. Fix the VAE (train it longer, a larger latent_dim or a smaller "
                "beta, decode to [0, 1] images)."
            )
        if identification.n_vae_failing_draws:
            what = "left out" if identification.vae_failures == "exclude" else "kept, flagged"
            text += (
                f" {identification.n_vae_failing_draws} misclassified draws of "
                f"{identification.n_vae_failure_images} images whose reconstruction alone is "
                f"misclassified are VAE failures ({what})."
            )
        return text

    def _show_quality(self) -> None:
        quality = self.quality
        warn = quality is not None and not quality.passed
        colour = "var(--jp-warn-color0, #e65100)" if warn else "var(--jp-ui-font-color2, #666)"
        border = "var(--jp-warn-color0, #e65100)" if warn else "var(--jp-border-color1, #bbb)"
        self._quality.remove_class("fw-scenarios-quality-ok")
        self._quality.remove_class("fw-scenarios-quality-warn")
        self._quality.add_class("fw-scenarios-quality-warn" if warn else "fw-scenarios-quality-ok")
        self._quality.value = (
            f'<div style="color: {colour}; border-left: 3px solid {border}; padding: 1px 8px; '
            'font-size: var(--jp-ui-font-size1, 13px); line-height: 1.4">'
            + ("⚠ " if warn else "")
            + html.escape(self._quality_text())
            + "</div>"
        )

    # ------------------------------------------------------------------ correction display
    def _show_correction(self, result) -> None:
        names = self._evalset.class_names
        table = result.table()
        reference = table.columns[1]
        main_rows = [
            [
                str(label),
                "—" if _isna(row["scenarios"]) else str(int(row["scenarios"])),
                _number(row[reference]),
                _number(row["test"]),
                _number(row["failure scenario"]),
            ]
            for label, row in table.iterrows()
        ]
        scenario_rows = [
            [
                f"#{int(scenario_id)}",
                names[int(row["correct_label"])],
                _number(100 * row["accuracy_before"]),
                _number(100 * row["accuracy_after"]),
            ]
            for scenario_id, row in result.per_scenario.iterrows()
        ]
        self._correction_table.value = (
            f"<style>{_TABLE_CSS}</style><div class='fw-scn-correction'>"
            "<div class='fw-scn-correction-title'>Correction: accuracy (%) before and after "
            "finetuning on the labelled failure scenarios</div>"
            + _html_table(
                ["", "scenarios", str(reference), "test", "failure scenario (held out)"],
                main_rows,
            )
            + "<div class='fw-scn-correction-note'>"
            + html.escape(f"λ selection: {result.selection}.")
            + "</div><div class='fw-scn-correction-title'>Per labelled scenario (held-out "
            "samples)</div>"
            + _html_table(["scenario", "correct label", "before", "after"], scenario_rows)
            + "</div>"
        )
        chart = self._tradeoff_chart(result)
        self._correction_box.children = [self._correction_table] + (
            [chart] if chart is not None else []
        )

    @staticmethod
    def _tradeoff_chart(result):
        try:
            import bqplot
        except ImportError:  # the table says it all
            return None
        points = result.tradeoff()
        before = points[points["model"] == "before"]
        after = points[points["model"] == "finetuned"].sort_values("lambda")
        x_all = 100 * points["test_accuracy"].to_numpy(dtype=float)
        y_all = 100 * points["scenario_accuracy"].to_numpy(dtype=float)

        def padded(values):  # a readable domain even when every point coincides
            low, high = float(np.nanmin(values)), float(np.nanmax(values))
            pad = max(2.0, 0.1 * (high - low))
            return max(0.0, low - pad), min(100.0, high + pad)

        x_min, x_max = padded(x_all)
        y_min, y_max = padded(y_all)
        x_scale = bqplot.LinearScale(min=x_min, max=x_max)
        y_scale = bqplot.LinearScale(min=y_min, max=y_max)
        scales = {"x": x_scale, "y": y_scale}
        x_after = 100 * after["test_accuracy"].to_numpy(dtype=float)
        y_after = 100 * after["scenario_accuracy"].to_numpy(dtype=float)
        sweep = bqplot.Lines(
            x=x_after, y=y_after, scales=scales, colors=["#1976d2"], marker="circle"
        )
        lambdas = bqplot.Label(
            x=x_after,
            y=y_after,
            text=[f"λ={value:g}" for value in after["lambda"]],
            scales=scales,
            x_offset=7,
            y_offset=-7,
            default_size=11,
            colors=["#1976d2"],
        )
        x_before = 100 * before["test_accuracy"].to_numpy(dtype=float)
        y_before = 100 * before["scenario_accuracy"].to_numpy(dtype=float)
        start = bqplot.Scatter(
            x=x_before, y=y_before, scales=scales, colors=["#d32f2f"], default_size=90
        )
        start_label = bqplot.Label(
            x=x_before,
            y=y_before,
            text=["before"],
            scales=scales,
            align="end",
            x_offset=-7,
            y_offset=-7,
            default_size=11,
            colors=["#d32f2f"],
        )
        return bqplot.Figure(
            marks=[sweep, lambdas, start, start_label],
            axes=[
                bqplot.Axis(scale=x_scale, label="test accuracy (%)"),
                bqplot.Axis(
                    scale=y_scale,
                    side="left",
                    label="failure-scenario accuracy (%)",
                    label_offset="40px",
                ),
            ],
            title="Trade-off over the λ sweep",
            title_style={"font-size": "14px"},
            fig_margin={"top": 40, "bottom": 45, "left": 60, "right": 30},
            animation_duration=0,
            layout=widgets.Layout(width="min(100%, 480px)", height="320px"),
        )


_TABLE_CSS = """
.fw-scn-correction { color: var(--jp-ui-font-color1); font-size: var(--jp-ui-font-size1); }
.fw-scn-correction-title { font-weight: 600; margin: 8px 0 4px; }
.fw-scn-correction-note { color: var(--jp-ui-font-color2); font-size: var(--jp-ui-font-size0); }
.fw-scn-correction table { border-collapse: collapse; margin-bottom: 4px; }
.fw-scn-correction th, .fw-scn-correction td {
  padding: 3px 10px; border-bottom: 1px solid var(--jp-border-color2); text-align: right;
}
.fw-scn-correction th { font-weight: 600; border-bottom-color: var(--jp-border-color1); }
.fw-scn-correction th:first-child, .fw-scn-correction td:first-child { text-align: left; }
"""


def _isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def _number(value) -> str:
    return "—" if _isna(value) else f"{float(value):.1f}"


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    """A small HTML table; every cell is escaped."""
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

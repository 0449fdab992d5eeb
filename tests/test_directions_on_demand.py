"""Failure directions fitted per class on demand give the same directions as fitting all."""

import queue
import threading

import numpy as np
import pytest
from test_directions import CLASS_NAMES, WORDS, PlantedTextEncoder, planted_world
from test_directions_view import CLASS_NAMES as VIEW_CLASSES
from test_directions_view import planted

from failwidgets.methods.directions import (
    FailureDirections,
    FailureDirectionsResult,
    Whitener,
)
from failwidgets.methods.linear_svm import fit_balanced_svm_cv
from failwidgets.viewmodels.directions import BAR_COLOR, PENDING_BAR_COLOR
from failwidgets.widgets.directions import DirectionsView


@pytest.fixture(scope="module")
def world():
    return planted_world(seed=3)


def _result(world, **params):
    return FailureDirectionsResult.from_arrays(
        world["X"],
        world["labels"],
        world["correct"],
        world["split"],
        CLASS_NAMES,
        text_encoder=PlantedTextEncoder(world["u"], world["X"].shape[1]),
        caption_words=WORDS,
        n_jobs=1,
        **params,
    )


@pytest.fixture(scope="module")
def eager(world):
    return _result(world)


def _same_directions(a: FailureDirections, b: FailureDirections) -> None:
    for name in ("coef_", "intercept_", "best_C_", "cv_scores_", "failure_strength_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.skipped_ == b.skipped_


def test_nothing_is_fitted_up_front_and_each_query_fits_its_class(world, eager):
    lazy = _result(world, classes=[])
    assert lazy.pending == CLASS_NAMES
    assert np.isnan(lazy.summary["failure_strength"]).all()
    assert "fitted on demand=3" in repr(lazy)
    hard = lazy.most_aligned("cat", k=7)
    assert lazy.pending == ["bird", "ship"]
    np.testing.assert_array_equal(hard.index, eager.most_aligned("cat", k=7).index)
    np.testing.assert_array_equal(hard.values, eager.most_aligned("cat", k=7).values)
    assert not np.isnan(lazy.summary["failure_strength"][1])
    # captions fit their class too; the pool selection needs every class
    assert list(lazy.captions("bird")["caption"]) == list(eager.captions("bird")["caption"])
    pool = lazy.select_from_pool(5)
    assert lazy.pending == []
    for name, rows in eager.select_from_pool(5).items():
        np.testing.assert_array_equal(pool[name], rows)
    _same_directions(lazy.model, eager.model)


def test_classes_given_by_name_are_fitted_now_and_the_rest_later(world, eager):
    partial = _result(world, classes=["ship"])
    assert partial.pending == ["bird", "cat"]
    partial.fit_classes()
    assert partial.pending == []
    _same_directions(partial.model, eager.model)
    np.testing.assert_array_equal(partial.upweight_mask(), eager.upweight_mask())


def test_upweight_mask_fits_the_classes_of_its_split(world, eager):
    lazy = _result(world, classes=[])
    np.testing.assert_array_equal(lazy.upweight_mask("train"), eager.upweight_mask("train"))
    assert lazy.pending == []


def test_concurrent_requests_fit_each_class_once(world, eager, monkeypatch):
    lazy = _result(world, classes=[])
    calls = []
    fit_classes = lazy.model.fit_classes

    def counting(*args, **kwargs):
        calls.append(tuple(args[3]))
        return fit_classes(*args, **kwargs)

    monkeypatch.setattr(lazy.model, "fit_classes", counting)
    threads = [threading.Thread(target=lazy.fit_classes, args=(["bird", "cat"],)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(calls) == [(0,), (1,)]
    assert lazy.pending == ["ship"]
    np.testing.assert_array_equal(lazy.model.coef_[:2], eager.model.coef_[:2])


def test_model_fit_classes_checks_its_arguments(world):
    X, labels, correct, split = world["X"], world["labels"], world["correct"], world["split"]
    train, val = split == "train", split == "val"
    model = FailureDirections(n_jobs=1).fit(
        X[train], X[val], labels[val], correct[val], n_classes=3, classes=[]
    )
    with pytest.raises(ValueError, match="not fitted yet"):
        model.class_decision_function(X[:2], 0)
    with pytest.raises(ValueError, match="classes: class indices must lie in 0..2"):
        model.fit_classes(X[val], labels[val], correct[val], [5])
    with pytest.raises(TypeError, match="classes: expected class indices"):
        model.fit_classes(X[val], labels[val], correct[val], ["bird"])
    half = np.flatnonzero(val)[::2]
    with pytest.raises(ValueError, match="pass the same validation set"):
        model.fit_classes(X[half], labels[half], correct[half], [0])
    with pytest.raises(ValueError, match="classes: unknown class 'dog'"):
        _result(world, classes=["dog"])


def test_a_sweep_in_threads_equals_the_serial_sweep(world):
    rows = (world["split"] == "val") & (world["labels"] == 0)
    X = Whitener().fit_transform(world["X"][rows])
    y = world["correct"][rows].astype(int)
    serial = fit_balanced_svm_cv(X, y, n_jobs=1)
    threaded = fit_balanced_svm_cv(X, y, n_jobs=3)
    np.testing.assert_array_equal(serial.cv_scores, threaded.cv_scores)
    np.testing.assert_array_equal(serial.coef, threaded.coef)
    assert serial.best_C == threaded.best_C
    with pytest.raises(ValueError, match="n_jobs"):
        fit_balanced_svm_cv(X, y, n_jobs=0)


def test_float16_embeddings_are_whitened_without_a_float64_copy_of_their_own():
    rng = np.random.default_rng(0)
    X16 = rng.normal(size=(200_000 // 100, 8)).astype(np.float16)
    whitener = Whitener().fit(X16)
    reference = X16.astype(np.float64)
    np.testing.assert_allclose(whitener.mean_, reference.mean(axis=0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(whitener.scale_, reference.std(axis=0), rtol=1e-12)
    np.testing.assert_allclose(
        whitener.transform(X16), Whitener().fit(reference).transform(reference), atol=1e-12
    )


# ---------------------------------------------------------------- the view
@pytest.fixture(scope="module")
def view_world():
    return planted()


def _lazy_view_result(view_world):
    es = view_world["evalset"]
    return FailureDirectionsResult.from_arrays(
        view_world["X"], es.labels, es.correct, es.split, VIEW_CLASSES, n_jobs=1, classes=[]
    )


def test_the_view_fits_the_classes_it_opens_and_redraws_their_bars(view_world):
    result = _lazy_view_result(view_world)
    model = result.model
    view = DirectionsView(view_world["evalset"], result, k=5, background=False)
    # nothing was fitted: the view opens the class with the most validation errors
    opened = max(sorted(model.pending_ | {view.class_index}), key=lambda c: model.n_errors_[c])
    assert view.class_index == opened
    assert view.class_index not in model.pending_
    assert not np.isnan(model.failure_strength_[view.class_index])
    other = next(iter(sorted(model.pending_)))
    colors = list(view._bars.colors)
    assert colors[other] == PENDING_BAR_COLOR and colors[view.class_index] != PENDING_BAR_COLOR
    assert "fitted when opened" in view._dropdown.options[other][0]
    assert "1 fitted" in view.chart.title
    view.set_class(VIEW_CLASSES[other])
    assert other not in model.pending_
    assert view._bars.colors[other] != PENDING_BAR_COLOR
    assert view._dropdown.value == VIEW_CLASSES[other]
    assert view._bars.y[other] == pytest.approx(model.failure_strength_[other])
    assert view.view_model()["strength"] == pytest.approx(model.failure_strength_[other])
    assert view.chart.title == "Failure strength per class"  # the third class is skipped


def test_failure_modes_of_every_class_fit_them_all(view_world):
    es = view_world["evalset"]
    result = _lazy_view_result(view_world)
    view = DirectionsView(es, result, k=5)  # opens a class on the worker
    view._worker.wait()
    assert result.pending != []
    modes = view.failure_modes("all")  # an explicit call: fits the pending classes itself
    assert result.pending == []
    eager = DirectionsView(
        es,
        FailureDirectionsResult.from_arrays(
            view_world["X"], es.labels, es.correct, es.split, VIEW_CLASSES, n_jobs=1
        ),
        k=5,
    )
    expected = eager.failure_modes("all")
    assert [m.class_name for m in modes] == [m.class_name for m in expected]
    for got, want in zip(modes, expected):
        np.testing.assert_array_equal(got.members, want.members)
    assert PENDING_BAR_COLOR not in list(view._bars.colors)


class GatedFits:
    """Holds a result's SVM fits until the test releases them, one release per fit: a fit
    as slow as the test needs, without any timing."""

    def __init__(self, model, monkeypatch):
        self._started: queue.Queue = queue.Queue()
        self._permits = threading.Semaphore(0)
        fit = model.fit_classes

        def gated(*args, **kwargs):
            self._started.put(tuple(args[3]))
            if not self._permits.acquire(timeout=30):
                raise TimeoutError("the test never released the fit")
            return fit(*args, **kwargs)

        monkeypatch.setattr(model, "fit_classes", gated)

    def started(self) -> tuple:
        """The classes of the next fit that started (waits for it)."""
        return self._started.get(timeout=30)

    def idle(self) -> bool:
        return self._started.empty()

    def release(self) -> None:
        self._permits.release()


def _eager_view_result(view_world):
    es = view_world["evalset"]
    return FailureDirectionsResult.from_arrays(
        view_world["X"], es.labels, es.correct, es.split, VIEW_CLASSES, n_jobs=1
    )


def test_a_class_switch_returns_before_the_fit_and_draws_the_class_when_it_lands(
    view_world, monkeypatch
):
    es = view_world["evalset"]
    eager = _eager_view_result(view_world)
    result = _lazy_view_result(view_world)
    gate = GatedFits(result.model, monkeypatch)
    view = DirectionsView(es, result, k=5)  # background: returns while its class is fitted
    first, c = view.class_name, view.class_index
    assert gate.started() == (c,)
    assert view.pending and view.status == f"fitting {first}…"
    model = view.panel.view_model
    assert model["pending"] is True and model["hard"] == model["easy"] == []
    assert model["strength"] is None and model["captions_note"].startswith("Fitting")
    assert view.hard_strip.total == 0 and view.hard_strip.layout.display == "none"
    assert view.easy_strip.layout.display == "none"
    assert view._bars.colors[c] == PENDING_BAR_COLOR
    gate.release()
    view._worker.wait()
    assert not view.pending and view.status == ""
    np.testing.assert_array_equal(view.hard_strip.indices, eager.most_aligned(c, k=5).index)
    assert view._bars.colors[c] == BAR_COLOR and view.panel.view_model["pending"] is False

    # a class picked in the view's dropdown: shown pending at once, its tail selected once fitted
    other = 1 - c  # the view world's third class has no direction
    calls = []
    view.on_select(calls.append)
    view.k = 7
    view._dropdown.value = VIEW_CLASSES[other]
    assert gate.started() == (other,)
    assert view.class_name == VIEW_CLASSES[other] and view.pending
    assert view.status == f"fitting {VIEW_CLASSES[other]}…"
    assert list(view._bars.selected) == [other]
    assert view._bars.colors[other] == PENDING_BAR_COLOR
    assert view.hard_strip.total == 0 and calls == [] and view.grid.total == 0
    assert view.hard_strip.layout.display == "none"
    view.k = 6
    assert view.panel.view_model["k"] == 6 and view.pending
    gate.release()
    view._worker.wait()
    tail = eager.most_aligned(other, k=6)
    np.testing.assert_array_equal(view.hard_strip.indices, tail.index)
    assert view.hard_strip.layout.display is None and view.easy_strip.layout.display is None
    np.testing.assert_array_equal(
        view.easy_strip.indices, eager.most_aligned(other, 6, "test", "easy").index
    )
    assert view._bars.y[other] == pytest.approx(eager.model.failure_strength_[other])
    assert view._dropdown.value == VIEW_CLASSES[other]
    assert view._dropdown.options[other][0].startswith(f"{VIEW_CLASSES[other]} · 0.")
    assert view.chart.title == "Failure strength per class"
    assert [m.class_name for m in calls] == [VIEW_CLASSES[other]]
    np.testing.assert_array_equal(view.grid.indices, tail.index)
    np.testing.assert_array_equal(view.selected_members, tail.index)
    assert gate.idle()


def test_a_newer_class_switch_wins_over_a_fit_still_running(view_world, monkeypatch):
    es = view_world["evalset"]
    eager = _eager_view_result(view_world)
    result = _lazy_view_result(view_world)
    gate = GatedFits(result.model, monkeypatch)
    view = DirectionsView(es, result, k=5)
    c = view.class_index
    assert gate.started() == (c,)
    gate.release()
    view._worker.wait()
    other = 1 - c
    view.set_class(other)  # pending: its fit starts and waits
    assert gate.started() == (other,) and view.pending
    view.set_class(c)  # fitted: drawn at once, the running fit will not draw
    assert not view.pending and view.status == ""
    np.testing.assert_array_equal(view.hard_strip.indices, eager.most_aligned(c, k=5).index)
    gate.release()
    view._worker.wait()
    assert view.class_name == VIEW_CLASSES[c] and view.status == ""
    np.testing.assert_array_equal(view.hard_strip.indices, eager.most_aligned(c, k=5).index)
    assert view.grid.total == 0  # set from Python: the grid is untouched
    assert other not in result.model.pending_  # the fit itself was kept
    view.set_class(other)  # fitted meanwhile: drawn at once, nothing fitted again
    assert not view.pending and gate.idle()
    np.testing.assert_array_equal(view.hard_strip.indices, eager.most_aligned(other, k=5).index)
    assert view._bars.colors[other] == BAR_COLOR


def test_a_failed_fit_is_shown_in_the_status_line(view_world, monkeypatch):
    result = _lazy_view_result(view_world)

    def broken(*args, **kwargs):
        raise MemoryError("no room for the SVMs")

    monkeypatch.setattr(result.model, "fit_classes", broken)
    view = DirectionsView(view_world["evalset"], result, k=5)
    view._worker.wait()
    assert view.status == f"fitting {view.class_name} failed: MemoryError: no room for the SVMs"
    assert view.pending and view.panel.view_model["pending"] is True


def test_failure_modes_of_a_class_being_fitted_wait_for_that_fit(view_world, monkeypatch):
    es = view_world["evalset"]
    eager = _eager_view_result(view_world)
    result = _lazy_view_result(view_world)
    gate = GatedFits(result.model, monkeypatch)
    view = DirectionsView(es, result, k=5)
    c = view.class_index
    assert gate.started() == (c,)  # the worker holds the class's fit
    releaser = threading.Timer(0.05, gate.release)  # whenever it runs, the answer is the same
    releaser.start()
    (mode,) = view.failure_modes()  # an explicit call: returns the class's modes, fitted
    releaser.join()
    (expected,) = eager.failure_modes([c], k=5)
    np.testing.assert_array_equal(mode.members, expected.members)
    assert mode.description == expected.description
    view._worker.wait()
    assert gate.idle()  # fitted once, by the worker
    assert not view.pending and view.hard_strip.total == 5

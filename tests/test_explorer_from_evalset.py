"""Explorer.from_evalset: every method the assets allow, split honoured, missing assets named.

The world is test_explorer's: three colour-tinted classes where a quarter of the images wear
another class's colour and the classifier follows the colour, so those "odd" images are its
mistakes, and every method can find them (features, tags, embeddings and a colour-reading
classifier are planted accordingly).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_explorer import COLOURS, NAMES, make_world
from torch import nn

from failwidgets.data import EvalSet
from failwidgets.methods.directions import FailureDirectionsResult
from failwidgets.methods.prime import Prime
from failwidgets.widgets.explorer import Explorer

torch.set_num_threads(1)


class ColourNet(nn.Module):
    """Class c's logit reads colour channel c (so it predicts the tint)."""

    def __init__(self):
        super().__init__()
        self.features = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(3, 3)
        with torch.no_grad():
            self.fc.weight.copy_(6.0 * torch.eye(3))
            self.fc.bias.zero_()

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


@pytest.fixture(scope="module")
def world():
    evalset, odd, embeddings, features = make_world()
    return dict(evalset=evalset, odd=odd, embeddings=embeddings, features=features)


def build(world, **assets):
    options = dict(progress=False, background=False, cache_dir=None)
    options.update(assets)
    return Explorer.from_evalset(world["evalset"], **options)


@pytest.fixture(scope="module")
def full(world, tmp_path_factory):
    explorer = build(
        world,
        features=world["features"],
        embeddings=world["embeddings"],
        classifier=ColourNet(),
        split="test",
        heldout_split="val",
        cache_dir=tmp_path_factory.mktemp("cache"),
        options={
            "barlow": {"depth": 1, "k": 3},
            "prime": {"a": 0.3, "min_support": 5},
            "ces": {"delta": 0.3},
            "directions": {"k": 20, "fit": {"n_jobs": 1}},
        },
    )
    yield explorer
    explorer.close()


def test_builds_every_method_the_assets_allow(full):
    assert list(full.views) == ["barlow", "prime", "ces", "directions", "map"]
    assert set(full.unavailable) == {"defuse"}
    assert "vae=" in full.unavailable["defuse"]
    assert "defuse" in full._status.value and "vae=" in full._status.value


def test_the_embedding_map_is_a_tab_that_highlights_a_selected_mode(full):
    from failwidgets.widgets import EmbeddingMap

    view = full.views["map"]
    assert isinstance(view, EmbeddingMap) and view.grid is full.grid
    assert full.tabs.get_title(list(full.views).index("map")) == "Embedding map"
    mode = next(m for m in full._modes.collect(full.class_name) if m.method == "prime")
    full.select_mode(mode)
    assert view.color_by == "mode"
    np.testing.assert_array_equal(view.highlighted, np.unique(mode.members))


def test_every_method_analyses_only_the_split(full, world):
    es = world["evalset"]
    test_rows = set(es.split_indices("test").tolist())
    frame = full.failure_modes()
    assert set(frame["method"]) >= {"barlow", "prime", "directions"}
    for method, members in zip(frame["method"], frame["members"], strict=True):
        outside = set(members) - test_rows
        assert not outside, f"{method} reports rows outside split='test': {sorted(outside)[:5]}"


def test_methods_find_the_planted_failure(full, world):
    es, odd = world["evalset"], world["odd"]
    frame = full.failure_modes()
    for method in ("barlow", "prime", "directions"):
        rows = frame[frame["method"] == method]
        assert len(rows), method
        best = rows.sort_values("drop", ascending=False).iloc[0]
        members = np.asarray(best["members"])
        assert odd[members].mean() > 0.7, method
        assert es.split[members].tolist() == ["test"] * len(members)


def test_heldout_drop_is_measured_where_the_rule_reapplies(full):
    frame = full.failure_modes()
    for method in ("prime", "directions"):
        values = frame.loc[frame["method"] == method, "heldout_drop"]
        assert values.notna().all(), method


def test_missing_assets_give_one_line_each_and_no_error(world):
    es = world["evalset"]
    bare = EvalSet.from_arrays(
        es.images_at(np.arange(es.n)), es.labels, es.predictions, NAMES, split=es.split
    )
    explorer = Explorer.from_evalset(bare, progress=False, background=False)
    try:
        assert explorer.views == {}
        assert set(explorer.unavailable) == {"barlow", "prime", "ces", "directions", "defuse"}
        assert "features=" in explorer.unavailable["barlow"]
        assert "tags=" in explorer.unavailable["prime"]
        assert "classifier=" in explorer.unavailable["ces"]
        assert "embeddings=" in explorer.unavailable["directions"]
    finally:
        explorer.close()


def test_directions_without_a_split_say_what_to_pass(world):
    explorer = build(world, embeddings=world["embeddings"], methods=["directions"])
    try:
        assert "split=" in explorer.unavailable["directions"]
    finally:
        explorer.close()


def test_fitted_results_are_shown_unchanged(world):
    es = world["evalset"]
    from failwidgets.features.tags import tags_from_metadata

    tags = tags_from_metadata(es, columns=COLOURS)
    prime = Prime(a=0.3, min_support=5).fit(es, tags, indices=es.split_indices("test"))
    directions = FailureDirectionsResult.from_arrays(
        world["embeddings"], es.labels, es.correct, es.split, NAMES, n_jobs=1
    )
    explorer = build(
        world, results=[prime, directions], split="test", methods=["prime", "directions"]
    )
    try:
        assert explorer.views["prime"].result is prime.result_
        assert explorer.views["directions"].result is directions
    finally:
        explorer.close()


@pytest.mark.parametrize(
    "assets, error, pattern",
    [
        (dict(features=np.zeros((5, 3))), ValueError, r"^features: .*N = 720"),
        (
            dict(embeddings=np.full((720, 4), np.nan), split="test"),
            ValueError,
            r"^embeddings: .*NaN",
        ),
        (dict(split="nope"), ValueError, r"^split: no samples in split 'nope'"),
        (dict(split=3), TypeError, r"^split: "),
        (dict(split="test", heldout_split="test"), ValueError, r"^heldout_split: must differ"),
        (dict(results=[object()]), TypeError, r"^results: object is not a fitted result"),
        (dict(methods=["barlow", "magic"]), ValueError, r"^methods: unknown \['magic'\]"),
        (dict(options={"magic": {}}), ValueError, r"^options: unknown method 'magic'"),
        (dict(options={"prime": 3}), TypeError, r"^options\['prime'\]"),
        (dict(tagger=object(), methods=["prime"]), TypeError, r"^tagger: needs a tag"),
        (dict(concepts=3, classifier=ColourNet()), TypeError, r"^concepts: expected"),
        (dict(clip=3, methods=["directions"], split="test"), TypeError, r"^clip: expected"),
    ],
)
def test_bad_assets_name_the_argument(world, assets, error, pattern):
    with pytest.raises(error, match=pattern):
        build(world, **assets)


def test_evalset_must_be_an_evalset():
    with pytest.raises(TypeError, match=r"^evalset: expected an EvalSet"):
        Explorer.from_evalset("images/")


def test_robust_model_features_are_computed_and_cached(world, tmp_path):
    class Robust(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.fc = nn.Linear(4, 3)
            self.calls = 0

        def forward(self, x):
            return self.fc(self.conv(x).mean(dim=(2, 3)))

        def forward_features_map(self, x):
            self.calls += len(x)  # images seen
            return self.conv(x)  # a feature map: pooled to (N, 4)

    model = Robust()
    explorer = build(world, robust_model=model, methods=["barlow"], cache_dir=tmp_path)
    try:
        assert "barlow" in explorer.views, explorer.unavailable
        assert explorer.views["barlow"]._features.shape == (world["evalset"].n, 4)
    finally:
        explorer.close()
    calls = model.calls
    again = build(world, robust_model=model, methods=["barlow"], cache_dir=tmp_path)
    again.close()
    assert calls >= world["evalset"].n
    assert model.calls - calls < 10  # features read from the cache (the view checks one image)


def test_a_fitted_barlow_survey_is_shown_unchanged(world, monkeypatch):
    from failwidgets.methods.barlow import Barlow

    es = world["evalset"]
    test = es.split_indices("test")
    groups = {name: np.intersect1d(es.label_group(name), test) for name in NAMES}
    survey = Barlow(k=3, depth=1).fit_groups(world["features"], es, groups, keep_results=True)

    def refuse(*args, **kwargs):
        raise AssertionError("Barlow was refitted")

    monkeypatch.setattr(Barlow, "fit", refuse)
    monkeypatch.setattr(Barlow, "_fit_rows", refuse)
    explorer = build(world, results=[survey], split="test", methods=["barlow"])
    try:
        view = explorer.views["barlow"]
        assert view.features is None
        assert view.result is survey.results[("custom", view.class_name)]
        frame = explorer.failure_modes()
        shown = sorted((c, sorted(m)) for c, m in zip(frame["class_name"], frame["members"]))
        own = sorted(
            (name, sorted(m.members.tolist()))
            for (_, name), result in survey.results.items()
            for m in result.to_failure_modes(class_name=name)
        )
        assert own and shown == own
    finally:
        explorer.close()


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: ColourNet(), "features"),
        (
            lambda: nn.Sequential(
                nn.Flatten(), nn.Linear(192, 16), nn.ReLU(), nn.Dropout(), nn.Linear(16, 3)
            ),
            "3",
        ),
    ],
)
def test_bottleneck_guess_is_the_last_layer_before_the_logits(world, make, expected):
    from failwidgets.assets import _Assets, _guess_bottleneck

    assets = _Assets(
        world["evalset"],
        split=None,
        heldout_split=None,
        cache=None,
        progress=False,
        classifier=make(),
        preprocess=None,
        clip=None,
    )
    assert _guess_bottleneck(assets) == expected

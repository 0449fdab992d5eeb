"""The planted-failure world: shapes, determinism, planted statistics, ground truth, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from failwidgets.datasets import (
    BACKGROUNDS,
    COLOURS,
    FAILURE_KINDS,
    TEXTURES,
    PlantedFailure,
    World,
    conjunction,
    default_failures,
    make_world,
    missing_part,
    spurious_background,
    texture_confusion,
)
from failwidgets.datasets.drawing import shape_sdf

ATTRIBUTE_COLUMNS = [
    "class_name", "colour", "texture", "background", "size", "x", "y", "rotation",
    "brightness", "blur", "noise", "occluder", "distractor", "has_part",
]  # fmt: skip


@pytest.fixture(scope="module")
def world() -> World:
    # small images keep this fast; the planting does not depend on the image size
    return make_world(n_images=6000, image_size=24, seed=3)


def _share(mask, within):
    return mask[within].mean()


def test_shapes_dtypes_and_columns():
    w = make_world(n_images=300, image_size=32, seed=0)
    assert w.images.shape == (300, 32, 32, 3) and w.images.dtype == np.uint8
    assert w.labels.shape == (300,) and w.labels.dtype == np.int64
    assert 6 <= len(w.class_names) <= 10 and len(set(w.class_names)) == len(w.class_names)
    assert set(np.unique(w.labels)) == set(range(len(w.class_names)))
    assert isinstance(w.split, np.ndarray) and set(w.split) == {"train", "val", "test"}
    assert (w.split == "train").sum() == 210 and (w.split == "val").sum() == 45
    assert isinstance(w.attributes, pd.DataFrame) and len(w.attributes) == 300
    assert list(w.attributes.columns) == ATTRIBUTE_COLUMNS
    a = w.attributes
    assert (a["class_name"].to_numpy() == np.asarray(w.class_names)[w.labels]).all()
    assert set(a["colour"]) <= set(COLOURS) and set(a["texture"]) <= set(TEXTURES)
    assert set(a["background"]) <= set(BACKGROUNDS)
    for column in ("occluder", "distractor", "has_part"):
        assert a[column].dtype == bool
    assert a["x"].between(0, 1).all() and a["y"].between(0, 1).all()
    assert [f.kind for f in w.failures] == list(FAILURE_KINDS)
    # the images are not blank: objects differ from their surroundings
    assert w.images.reshape(300, -1, 3).std(axis=1).mean() > 10


def test_deterministic_from_seed():
    a = make_world(n_images=200, image_size=32, seed=7)
    b = make_world(n_images=200, image_size=32, seed=7)
    c = make_world(n_images=200, image_size=32, seed=8)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.split, b.split)
    pd.testing.assert_frame_equal(a.attributes, b.attributes)
    assert not np.array_equal(a.images, c.images)


def test_threads_do_not_change_the_images():
    a = make_world(n_images=1100, image_size=16, seed=4, n_jobs=1)
    b = make_world(n_images=1100, image_size=16, seed=4, n_jobs=3)
    np.testing.assert_array_equal(a.images, b.images)


def test_other_image_sizes_render():
    for size in (16, 48, 96):
        w = make_world(n_images=20, image_size=size, seed=1)
        assert w.images.shape == (20, size, size, 3)


def test_object_pixels_carry_the_object_colour():
    w = make_world(n_images=600, image_size=64, seed=2, failures=[])
    a = w.attributes
    # solid, sharp, unoccluded circles/squares: the centre pixel is colour * brightness (+ noise)
    pick = (
        a["class_name"].isin(["circle", "hexagon", "square"])
        & (a["texture"] == "solid")
        & (a["blur"] == 0)
        & ~a["occluder"]
    ).to_numpy()
    rows = np.flatnonzero(pick)
    assert rows.size > 10
    for i in rows:
        y, x = int(a["y"][i] * 64), int(a["x"][i] * 64)
        expected = np.clip(np.asarray(COLOURS[a["colour"][i]]) * a["brightness"][i], 0, 1) * 255
        tolerance = 255 * (4 * a["noise"][i] + 0.02)
        assert np.abs(w.images[i, y, x].astype(float) - expected).max() <= tolerance


def test_shape_sdf_hand_cases():
    origin, far = np.zeros(1), np.full(1, 0.99)
    assert shape_sdf("circle", origin, origin)[0] < 0 < shape_sdf("circle", far, far)[0]
    assert shape_sdf("ring", origin, origin)[0] > 0  # the hole
    assert shape_sdf("ring", origin, origin, has_part=False)[0] < 0  # no hole: a disc
    shaft = np.full(1, -0.7)
    assert shape_sdf("arrow", shaft, origin)[0] < 0
    assert shape_sdf("arrow", shaft, origin, has_part=False)[0] > 0  # head only
    assert shape_sdf("triangle", origin, np.full(1, -0.8))[0] < 0  # points up (v is down)
    assert shape_sdf("triangle", origin, np.full(1, 0.8))[0] > 0
    with pytest.raises(ValueError, match="class_name"):
        shape_sdf("blob", origin, origin)


def test_spurious_background_is_planted(world):
    f = next(f for f in world.failures if f.kind == "spurious_background")
    a = world.attributes
    own = (a["class_name"] == f.class_name).to_numpy()
    cue = (a["background"] == f.cue["background"]).to_numpy()
    train = world.split == "train"
    assert _share(cue, own & train) > 0.9
    assert 0.1 < _share(cue, own & ~train) < 0.3  # balanced over 5 backgrounds in val/test
    members = f.members(a)
    assert not (members & ~own).any() and (members == (own & ~cue)).all()


def test_conjunction_is_planted_with_every_pair_for_the_class(world):
    f = next(f for f in world.failures if f.kind == "conjunction")
    a = world.attributes
    train = world.split == "train"
    own = (a["class_name"] == f.class_name).to_numpy()
    other = (a["class_name"] == f.confused_with).to_numpy()
    hits = {c: (a[c] == v).to_numpy() for c, v in f.cue.items()}
    triple = np.logical_and.reduce(list(hits.values()))
    assert not (triple & train & ~other).any()  # in train only confused_with shows the triple
    assert not (triple & ~own & ~other).any()
    assert _share(triple, other & train) > 0.5
    # confused_with shows none of the three values outside the triple
    for mask in hits.values():
        assert not (mask & other & ~triple).any()
    # the failing class shows each pair (without the third value) in train
    columns = list(f.cue)
    for leave_out in columns:
        pair = np.logical_and.reduce([hits[c] for c in columns if c != leave_out])
        assert (pair & own & train & ~hits[leave_out]).sum() >= 0.05 * (own & train).sum()
    assert 0.08 < _share(triple, own & ~train) < 0.25
    assert (f.members(a) == (own & triple)).all()


def test_missing_part_is_planted(world):
    f = next(f for f in world.failures if f.kind == "missing_part")
    a = world.attributes
    own = (a["class_name"] == f.class_name).to_numpy()
    train = world.split == "train"
    part = a["has_part"].to_numpy()
    assert part[own & train].all()
    assert 0.2 < _share(~part, own & ~train) < 0.4
    assert part[~own].all()


def test_texture_confusion_is_planted(world):
    f = next(f for f in world.failures if f.kind == "texture_confusion")
    a = world.attributes
    train = world.split == "train"
    own = (a["class_name"] == f.class_name).to_numpy()
    other = (a["class_name"] == f.confused_with).to_numpy()
    wears = (a["texture"] == f.cue["texture"]).to_numpy()
    assert _share(wears, other) > 0.7
    assert not (wears & own & train).any()
    assert 0.2 < _share(wears, own & ~train) < 0.4
    assert not (wears & ~own & ~other).any()  # nobody else wears it


def test_no_failures_means_unbiased_attributes():
    w = make_world(n_images=4000, image_size=16, seed=0, failures=[])
    a = w.attributes
    assert w.failures == [] and a["has_part"].all()
    table = pd.crosstab(a["class_name"], a["background"], normalize="index")
    assert (table.to_numpy() > 0.12).all() and (table.to_numpy() < 0.28).all()


def test_custom_failures_are_planted():
    failures = [
        spurious_background("ring", "water", train_rate=1.0),
        missing_part("arrow", eval_member=0.5),
    ]
    w = make_world(n_images=3000, image_size=16, seed=0, failures=failures)
    a = w.attributes
    train = w.split == "train"
    ring = (a["class_name"] == "ring").to_numpy()
    assert (a["background"][ring & train] == "water").all()
    assert [f.name for f in w.failures] == ["ring_off_water", "arrow_without_shaft"]
    assert w.failure("arrow_without_shaft").rates["eval_member"] == 0.5


def test_members_on_a_hand_made_table():
    f = conjunction("square", "circle", colour="red", texture="stripes", background="sand")
    table = pd.DataFrame(
        {
            "class_name": ["square", "square", "circle", "square"],
            "colour": ["red", "red", "red", "blue"],
            "texture": ["stripes", "stripes", "stripes", "stripes"],
            "background": ["sand", "grass", "sand", "sand"],
        }
    )
    assert f.members(table).tolist() == [True, False, False, False]
    s = spurious_background("square", "sand")
    assert s.members(table).tolist() == [False, True, False, False]
    with pytest.raises(ValueError, match="missing columns"):
        f.members(table.drop(columns="texture"))
    with pytest.raises(TypeError, match="DataFrame"):
        f.members(table.to_numpy())


def test_reports_with_perfect_and_known_predictions(world):
    report = world.failure_report(world.labels)
    assert list(report["failure"]) == [f.name for f in world.failures]
    assert (report["acc_members"] == 1).all() and (report["gap"] == 0).all()
    # predict every member wrong: members at 0, the rest of the class at 1
    pred = world.labels.copy()
    f = world.failures[0]
    members = f.members(world.attributes)
    pred[members] = (pred[members] + 1) % len(world.class_names)
    row = world.failure_report(pred, split="test").iloc[0]
    assert row["acc_members"] == 0 and row["acc_rest"] == 1 and row["gap"] == 1
    assert row["n_members"] == (members & (world.split == "test")).sum()
    conj = next(f for f in world.failures if f.kind == "conjunction")
    sub = world.subset_report(conj.name, world.labels)
    assert list(sub["size"]) == [1, 1, 1, 2, 2, 2, 3] and (sub["accuracy"] == 1).all()
    with pytest.raises(ValueError, match="predictions"):
        world.failure_report(world.labels[:10])
    with pytest.raises(ValueError, match="no planted failure"):
        world.failure("nope")


def test_to_evalset(world):
    evalset = world.to_evalset(world.labels)
    assert evalset.n == len(world) and evalset.class_names == world.class_names
    assert evalset.metadata is not None and list(evalset.metadata.columns) == ATTRIBUTE_COLUMNS
    assert set(evalset.split) == {"train", "val", "test"}
    assert evalset.correct.all()
    probs = np.full((len(world), len(world.class_names)), 1.0 / len(world.class_names))
    assert world.to_evalset(world.labels, probs).probabilities.shape == probs.shape
    with pytest.raises(ValueError, match="predictions"):
        world.to_evalset(world.labels[:5])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_images": 0}, ValueError, "n_images"),
        ({"n_images": -5}, ValueError, "n_images"),
        ({"n_images": 10.5}, TypeError, "n_images"),
        ({"n_images": 10, "image_size": 8}, ValueError, "image_size"),
        ({"n_images": 10, "image_size": "64"}, TypeError, "image_size"),
        ({"n_images": 10, "seed": -1}, ValueError, "seed"),
        ({"n_images": 10, "n_jobs": 0}, ValueError, "n_jobs"),
        ({"n_images": 10, "failures": "spurious"}, TypeError, "failures"),
        ({"n_images": 10, "failures": [{"kind": "conjunction"}]}, TypeError, "failures"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_world(**kwargs)


def test_bad_failures():
    with pytest.raises(ValueError, match="kind: unknown failure kind 'shortcut'"):
        PlantedFailure("x", "shortcut", "star", {"background": "grass"}, "", "")
    with pytest.raises(ValueError, match="rates"):
        missing_part("arrow", eval_rate=0.3)
    with pytest.raises(ValueError, match="rates"):
        missing_part("arrow", eval_member=1.5)
    with pytest.raises(ValueError, match="background"):
        spurious_background("star", "lava")
    bad_lists = [
        ([spurious_background("dragon", "grass")], "class_name: unknown class 'dragon'"),
        ([missing_part("circle")], "no removable part"),
        ([texture_confusion("square", "square", texture="dots")], "confused_with"),
        ([conjunction("square", "circle", colour="pink", texture="dots", background="sand")],
         "colour='pink' unknown"),
        ([spurious_background("ring", "grass"), missing_part("ring")], "two planted failures"),
        ([texture_confusion("triangle", "heart", texture="dots"),
          conjunction("square", "circle", colour="red", texture="dots", background="sand")],
         "keeps to its classes"),
    ]  # fmt: skip
    for failures, match in bad_lists:
        with pytest.raises(ValueError, match=match):
            make_world(n_images=10, failures=failures)


def test_default_failures_are_fresh_and_complete():
    a, b = default_failures(), default_failures()
    assert a == b and a is not b
    assert sorted(f.kind for f in a) == sorted(FAILURE_KINDS)
    assert len({f.class_name for f in a}) == len(a)
    for f in a:
        assert f.split_shift and f.description and f.attributes


# --------------------------------------------------------------------------- the disk cache
# digest of make_world(n_images=64, image_size=64, seed=0) made by GENERATOR_VERSION 1
GOLDEN_DIGEST = "c13001c9144e452165dbd2c18b4f7a73"


def _world_digest(world) -> str:
    from failwidgets.datasets.world_cache import _table
    from failwidgets.features.cache import digest

    return digest(world.images, _table(world).tobytes())


def test_generator_version_pins_the_worlds():
    # A change of drawing.py / failures.py / make_world that changes a world must bump
    # GENERATOR_VERSION (it names the disk cache), then this digest is updated with it.
    from failwidgets.datasets import GENERATOR_VERSION

    world = make_world(n_images=64, image_size=64, seed=0)
    assert (GENERATOR_VERSION, _world_digest(world)) == (1, GOLDEN_DIGEST), (
        "the generated world changed: bump GENERATOR_VERSION and update GOLDEN_DIGEST"
    )


def _assert_same_world(a, b):
    np.testing.assert_array_equal(a.images, b.images)
    assert a.images.dtype == b.images.dtype == np.uint8
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.labels.dtype == b.labels.dtype
    np.testing.assert_array_equal(a.split, b.split)
    assert a.split.dtype == b.split.dtype
    pd.testing.assert_frame_equal(a.attributes, b.attributes, check_exact=True)
    assert a.failures == b.failures and a.class_names == b.class_names and a.seed == b.seed


@pytest.fixture
def counted_generations(monkeypatch):
    """Counts the calls of make_world made by cached_world."""
    from failwidgets.datasets import world_cache

    calls = []

    def counting(*args, **kwargs):
        calls.append(kwargs)
        return make_world(*args, **kwargs)

    monkeypatch.setattr(world_cache, "make_world", counting)
    return calls


def test_cached_world_equals_a_fresh_one(tmp_path, counted_generations):
    from failwidgets.datasets import cached_world
    from failwidgets.datasets.world_cache import world_cache_paths, world_key

    fresh = make_world(n_images=150, image_size=24, seed=5)
    first = cached_world(n_images=150, image_size=24, seed=5, cache_dir=tmp_path)
    paths = world_cache_paths(world_key(150, 24, 5), tmp_path)
    assert all(path.is_file() for path in paths.values())
    second = cached_world(n_images=150, image_size=24, seed=5, cache_dir=tmp_path)
    assert len(counted_generations) == 1  # the second one was read back
    assert isinstance(second.images.base, np.memmap)
    for world in (first, second):
        _assert_same_world(fresh, world)
    assert second.failure_report(second.labels).equals(fresh.failure_report(fresh.labels))
    # copy-on-write: writing into a cached world's images leaves the file alone
    second.images[0] = 0
    third = cached_world(n_images=150, image_size=24, seed=5, cache_dir=tmp_path)
    _assert_same_world(fresh, third)
    assert len(counted_generations) == 1


def test_custom_failures_are_cached_apart(tmp_path):
    from failwidgets.datasets import cached_world

    failures = [missing_part("arrow", eval_member=0.5)]
    world = cached_world(n_images=80, image_size=16, seed=0, failures=failures, cache_dir=tmp_path)
    _assert_same_world(make_world(n_images=80, image_size=16, seed=0, failures=failures), world)
    default = cached_world(n_images=80, image_size=16, seed=0, cache_dir=tmp_path)
    assert len(default.failures) == 4 and len(list(tmp_path.glob("world-*.json"))) == 2


def test_each_parameter_and_the_generator_version_name_their_own_files(tmp_path, monkeypatch):
    from failwidgets.datasets import cached_world, world_cache
    from failwidgets.datasets.world_cache import world_key

    base = {"n_images": 40, "image_size": 16, "seed": 0}
    variants = [base, {**base, "n_images": 41}, {**base, "image_size": 20}, {**base, "seed": 1}]
    variants.append({**base, "failures": [spurious_background("ring", "water")]})
    keys = {world_key(**kwargs) for kwargs in variants}
    monkeypatch.setattr(world_cache, "GENERATOR_VERSION", 2)
    keys.add(world_key(**base))
    assert len(keys) == len(variants) + 1
    for kwargs in variants:
        cached_world(**kwargs, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("world-*-images.npy"))) == len(variants)


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage_header(path):
    data = bytearray(path.read_bytes())
    data[:16] = b"not a numpy file"
    path.write_bytes(bytes(data))


def _flip_a_pixel_byte(path):
    data = bytearray(path.read_bytes())
    data[-1000] ^= 0xFF
    path.write_bytes(bytes(data))


def _zero_the_tail(path):
    data = bytearray(path.read_bytes())
    data[-5000:] = bytes(5000)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "which, damage",
    [
        ("images", _truncate),
        ("images", _garbage_header),
        ("images", _flip_a_pixel_byte),
        ("images", _zero_the_tail),
        ("images", lambda path: path.unlink()),
        ("table", _truncate),
        ("table", _flip_a_pixel_byte),
        ("manifest", _truncate),
        ("manifest", lambda path: path.unlink()),
        ("manifest", lambda path: path.write_text("[]")),
    ],
)
def test_a_corrupt_or_partial_cache_is_regenerated_not_read(
    tmp_path, counted_generations, which, damage
):
    from failwidgets.datasets import cached_world
    from failwidgets.datasets.world_cache import world_cache_paths, world_key

    kwargs = {"n_images": 60, "image_size": 16, "seed": 2}
    fresh = cached_world(**kwargs, cache_dir=tmp_path)
    damage(world_cache_paths(world_key(**kwargs), tmp_path)[which])
    again = cached_world(**kwargs, cache_dir=tmp_path)
    assert len(counted_generations) == 2  # regenerated
    _assert_same_world(fresh, again)
    _assert_same_world(fresh, cached_world(**kwargs, cache_dir=tmp_path))  # rewritten, read
    assert len(counted_generations) == 2


def test_an_unwritable_cache_warns_and_still_returns_the_world(tmp_path):
    from failwidgets.datasets import cached_world

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.warns(UserWarning, match="could not cache the world"):
        world = cached_world(n_images=30, image_size=16, seed=0, cache_dir=blocker / "cache")
    _assert_same_world(make_world(n_images=30, image_size=16, seed=0), world)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_images": 0}, ValueError, "n_images"),
        ({"n_images": 10, "image_size": 8}, ValueError, "image_size"),
        ({"n_images": 10, "seed": "0"}, TypeError, "seed"),
        ({"n_images": 10, "failures": "spurious"}, TypeError, "failures"),
    ],
)
def test_cached_world_bad_arguments(tmp_path, kwargs, error, match):
    from failwidgets.datasets import cached_world

    with pytest.raises(error, match=match):
        cached_world(**kwargs, cache_dir=tmp_path)
    assert not any(tmp_path.iterdir())

"""Tag matrices: from metadata, validation, the shipped vocabulary, the zero-shot tagger."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from failwidgets.features.tags import (
    DEFAULT_TEMPLATES,
    ClipZeroShotTagger,
    Tagger,
    TagMatrix,
    as_tag_matrix,
    class_tag_counts,
    load_vocabulary,
    run_tagger,
    tags_from_metadata,
)

# ---------------------------------------------------------------------- metadata


def metadata_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "night": [True, False, True, False, False],
            "colour": ["red", "blue", None, "red", "green"],
            "background": pd.Categorical(
                ["sky", "sand", "sand", "sky", "sky"], categories=["sky", "water", "sand"]
            ),
            "brightness": [0.1, 0.5, 0.7, 0.2, 0.9],
            "image_id": [f"img{i}" for i in range(5)],
            "occluded": pd.array([True, None, False, True, False], dtype="boolean"),
            "flag": np.array([True, None, False, False, True], dtype=object),
        }
    )


def test_tags_from_metadata_booleans_and_categories():
    tags = tags_from_metadata(metadata_frame(), max_values=3)
    assert isinstance(tags, TagMatrix)
    # one naming for every column type: column=value, booleans included
    assert tags.names == (
        "night=False",
        "night=True",
        "colour=blue",
        "colour=green",
        "colour=red",
        "background=sky",
        "background=sand",  # category order; the unused "water" makes no tag
        "occluded=False",
        "occluded=True",
        "flag=False",
        "flag=True",
    )
    m = tags.matrix
    assert m.dtype == bool and m.shape == (5, 11)
    np.testing.assert_array_equal(m[:, tags.index("night=True")], [1, 0, 1, 0, 0])
    np.testing.assert_array_equal(m[:, tags.index("night=False")], [0, 1, 0, 1, 1])
    np.testing.assert_array_equal(m[:, tags.index("colour=red")], [1, 0, 0, 1, 0])
    assert not m[2, 2:5].any()  # missing colour: no colour tag
    np.testing.assert_array_equal(m[:, tags.index("background=sand")], [0, 1, 1, 0, 0])
    # missing booleans (pandas <NA>, None in an object column) give neither tag
    np.testing.assert_array_equal(m[:, tags.index("occluded=True")], [1, 0, 0, 1, 0])
    np.testing.assert_array_equal(m[:, tags.index("occluded=False")], [0, 0, 1, 0, 1])
    np.testing.assert_array_equal(m[:, tags.index("flag=True")], [1, 0, 0, 0, 1])
    np.testing.assert_array_equal(m[:, tags.index("flag=False")], [0, 0, 1, 1, 0])


def test_boolean_tags_are_named_like_a_two_valued_categorical():
    thick = [True, False, False, True]
    as_bool = tags_from_metadata(pd.DataFrame({"thick": thick}))
    as_text = tags_from_metadata(pd.DataFrame({"thick": [str(v) for v in thick]}))
    assert as_bool.names == as_text.names == ("thick=False", "thick=True")
    np.testing.assert_array_equal(as_bool.matrix, as_text.matrix)
    # a value that never occurs gives no tag, as for a categorical
    always = tags_from_metadata(pd.DataFrame({"thick": [True, True, None]}))
    assert always.names == ("thick=True",)
    np.testing.assert_array_equal(always.matrix[:, 0], [True, True, False])


def test_an_unknown_tag_lists_the_valid_ones_closest_first():
    tags = tags_from_metadata(metadata_frame(), max_values=3)
    with pytest.raises(ValueError, match="name: unknown tag 'night'") as info:
        tags.index("night")
    message = str(info.value)
    assert "valid tags (closest first): 'night=False', 'night=True', " in message
    assert "'flag=True'" in message  # then the rest
    many = TagMatrix(np.zeros((1, 30), bool), tuple(f"t{i:02d}" for i in range(30)))
    with pytest.raises(ValueError, match=r"'t17'.*\(10 more\)"):
        many.index("t17x")


def test_tags_from_metadata_column_choice():
    frame = metadata_frame()
    # identifiers exceed max_values and numbers are skipped unless asked for
    default = tags_from_metadata(frame, max_values=3).names
    assert not any(n.startswith(("image_id", "brightness")) for n in default)
    with_ids = tags_from_metadata(frame, max_values=10).names
    assert "image_id=img0" in with_ids
    chosen = tags_from_metadata(frame, columns=["brightness", "night"])
    assert chosen.names == (
        "brightness=0.1",
        "brightness=0.2",
        "brightness=0.5",
        "brightness=0.7",
        "brightness=0.9",
        "night=False",
        "night=True",
    )
    assert tags_from_metadata(frame, columns="night").names == ("night=False", "night=True")


def test_tags_from_an_evalset():
    from failwidgets.data import EvalSet

    frame = metadata_frame()
    evalset = EvalSet.from_arrays(
        images=np.zeros((5, 2, 2, 3), np.uint8),
        labels=[0, 1, 0, 1, 0],
        predictions=[0, 1, 1, 1, 0],
        class_names=["a", "b"],
        metadata=frame,
    )
    from_evalset = tags_from_metadata(evalset, max_values=3)
    from_frame = tags_from_metadata(frame, max_values=3)
    assert from_evalset.names == from_frame.names
    np.testing.assert_array_equal(from_evalset.matrix, from_frame.matrix)
    bare = EvalSet.from_arrays(
        images=np.zeros((5, 2, 2, 3), np.uint8),
        labels=[0, 1, 0, 1, 0],
        predictions=[0, 1, 1, 1, 0],
        class_names=["a", "b"],
    )
    with pytest.raises(ValueError, match="no metadata"):
        tags_from_metadata(bare)


def test_tags_from_metadata_bad_input():
    frame = metadata_frame()
    with pytest.raises(ValueError, match="not in the metadata"):
        tags_from_metadata(frame, columns=["nope"])
    with pytest.raises(ValueError, match="empty list"):
        tags_from_metadata(frame, columns=[])
    with pytest.raises(ValueError, match="no boolean or categorical"):
        tags_from_metadata(frame[["brightness"]])
    with pytest.raises(TypeError, match="DataFrame"):
        tags_from_metadata(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="max_values"):
        tags_from_metadata(frame, max_values=0)


# ---------------------------------------------------------------------- validation


def test_as_tag_matrix_accepts_common_forms():
    m = np.array([[1, 0], [0, 1], [1, 1]])
    ref = as_tag_matrix(m.astype(bool), ["a", "b"])
    for form in (
        as_tag_matrix(m, ["a", "b"]),
        as_tag_matrix(m.astype(float), ("a", "b")),
        as_tag_matrix((m.astype(bool), ["a", "b"])),
        as_tag_matrix(ref),
        as_tag_matrix(pd.DataFrame(m.astype(bool), columns=["a", "b"])),
    ):
        np.testing.assert_array_equal(form.matrix, ref.matrix)
        assert form.names == ("a", "b") and form.matrix.dtype == bool
    assert as_tag_matrix(ref).matrix is ref.matrix  # no copy


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((np.zeros((3, 2)),), {}, ValueError, "tag_names: required"),
        ((np.zeros(3, bool), ["a"]), {}, ValueError, "2-D"),
        ((np.full((3, 2), 2), ["a", "b"]), {}, ValueError, "0 and 1"),
        ((np.array([["x", "y"]]), ["a", "b"]), {}, TypeError, "boolean"),
        ((np.zeros((3, 2), bool), ["a"]), {}, ValueError, "2 tag columns"),
        ((np.zeros((3, 2), bool), ["a", "a"]), {}, ValueError, "duplicate"),
        ((np.zeros((3, 2), bool), ["a", 3]), {}, TypeError, "item 1"),
        ((np.zeros((3, 2), bool), ["a", ""]), {}, ValueError, "empty string"),
        ((np.zeros((3, 2), bool), "ab"), {}, TypeError, "single string"),
        ((np.zeros((3, 0), bool), []), {}, ValueError, "no tags"),
        ((np.zeros((3, 1), bool), ["a"]), {"n_rows": 4}, ValueError, "3 rows for 4"),
    ],
)
def test_as_tag_matrix_rejects_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        as_tag_matrix(*args, **kwargs)


def test_class_tag_counts():
    m = np.array([[1, 0], [1, 1], [0, 1], [1, 1]], dtype=bool)
    counts = class_tag_counts(m, np.array([0, 0, 1, 2]), 4)
    np.testing.assert_array_equal(counts, [[2, 1], [0, 1], [1, 1], [0, 0]])
    # a wrong row count is blamed on the tag matrix, with both lengths
    with pytest.raises(ValueError, match="matrix: the tag matrix has 4 rows but labels has 2"):
        class_tag_counts(m, np.array([0, 1]), 2)
    with pytest.raises(ValueError, match="labels: expected a 1-D"):
        class_tag_counts(m, np.zeros((4, 1), int), 2)


# ---------------------------------------------------------------------- vocabulary


def test_shipped_vocabulary_is_broad():
    vocab = load_vocabulary()
    assert len(vocab) >= 400 and len(set(vocab)) == len(vocab)
    for tag in ("dog", "car", "forest", "beach", "red", "striped", "wooden", "run", "hang", "snow"):
        assert tag in vocab
    assert all(tag == tag.strip() and "#" not in tag for tag in vocab)


def test_vocabulary_file_format(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("# colours\nred\n\nblue  # a comment\nred\n")
    assert load_vocabulary(path) == ["red", "blue"]
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(ValueError, match="no tags"):
        load_vocabulary(tmp_path / "empty.txt")


# ---------------------------------------------------------------------- zero-shot tagger


class FakeEncoder:
    """Texts: one-hot of the tag they mention plus a small template direction. Images: rows
    of a table (pixel [0, 0] holds the row in base 256)."""

    def __init__(self, vocabulary, templates, image_table):
        self.vocabulary = list(vocabulary)
        self.templates = list(templates)
        self.table = np.asarray(image_table, dtype=np.float32)
        self.text_calls = 0
        self.dim = len(self.vocabulary) + len(self.templates)

    def encode_texts(self, texts):
        self.text_calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            tag = max((t for t in self.vocabulary if t in text), key=len)
            out[i, self.vocabulary.index(tag)] = 1.0
            template = next(j for j, tpl in enumerate(self.templates) if tpl.format(tag) == text)
            out[i, len(self.vocabulary) + template] = 0.3
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_images(self, images, indices=None):
        if indices is not None:
            return self.table[np.asarray(indices)]
        idx = images[:, 0, 0, 0].astype(int) + 256 * images[:, 0, 0, 1].astype(int)
        return self.table[idx]


def index_images(rows) -> np.ndarray:
    rows = np.asarray(rows)
    images = np.zeros((len(rows), 2, 2, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = rows % 256
    images[:, 0, 0, 1] = rows // 256
    return images


VOCAB = ["dog", "grass", "red", "snow"]


def planted_table(n=1000, seed=0):
    """Image embeddings like CLIP's: a shared "photo" direction, small noise, and a clear
    "snow" component in 5 % of the images."""
    rng = np.random.default_rng(seed)
    table = rng.normal(0, 0.1, (n, len(VOCAB) + len(DEFAULT_TEMPLATES)))
    table[:, len(VOCAB) :] += 1.0
    snowy = rng.random(n) < 0.05
    table[snowy, VOCAB.index("snow")] += 0.8
    return table, snowy


def test_tagger_follows_the_documented_threshold_rule():
    table, snowy = planted_table()
    encoder = FakeEncoder(VOCAB, DEFAULT_TEMPLATES, table)
    tagger = ClipZeroShotTagger(encoder, VOCAB, z=3.0)
    assert isinstance(tagger, Tagger)
    images = index_images(np.arange(len(table)))
    tags = tagger.tag(images)
    assert isinstance(tags, TagMatrix) and tags.names == tuple(VOCAB)

    # independent computation: prompt-ensembled text embeddings, cosine scores, median/MAD
    prompts = encoder.encode_texts([t.format(v) for v in VOCAB for t in DEFAULT_TEMPLATES])
    text = prompts.reshape(len(VOCAB), len(DEFAULT_TEMPLATES), -1).mean(1)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    np.testing.assert_allclose(tagger.text_embeddings(), text, atol=1e-6)
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    scores = unit @ text.T
    median = np.median(scores, axis=0)
    scale = 1.4826 * np.median(np.abs(scores - median), axis=0)
    expected = scores >= median + 3.0 * scale
    disagree = tags.matrix != expected
    assert disagree.sum() <= 2  # float32 vs float64 right at a threshold at most
    # the rule finds the planted tag: high recall, few false positives
    snow = tags.matrix[:, VOCAB.index("snow")]
    assert snow[snowy].mean() > 0.9 and snow[~snowy].mean() < 0.01


def test_tagger_fit_then_tag_uses_the_fitted_thresholds():
    table, _ = planted_table()
    encoder = FakeEncoder(VOCAB, DEFAULT_TEMPLATES, table)
    tagger = ClipZeroShotTagger(encoder, VOCAB).fit(index_images(np.arange(800)))
    assert tagger.thresholds_.shape == (len(VOCAB),)
    scores = tagger.scores(index_images(np.arange(800, 1000)))
    tags = tagger.tag(index_images(np.arange(800, 1000)))
    np.testing.assert_array_equal(tags.matrix, scores >= tagger.thresholds_)
    assert encoder.text_calls == 1  # text embeddings are computed once


def test_tagger_explicit_thresholds_and_cap():
    table, _ = planted_table()
    encoder = FakeEncoder(VOCAB, DEFAULT_TEMPLATES, table)
    images = index_images(np.arange(300))
    everything = ClipZeroShotTagger(encoder, VOCAB, thresholds=-1.0).tag(images)
    assert everything.matrix.all()
    per_tag = ClipZeroShotTagger(encoder, VOCAB, thresholds=[1.0, -1.0, 1.0, -1.0]).tag(images)
    np.testing.assert_array_equal(per_tag.matrix.any(0), [False, True, False, True])
    capped = ClipZeroShotTagger(encoder, VOCAB, thresholds=-1.0, max_tags_per_image=2).tag(images)
    assert (capped.matrix.sum(1) == 2).all()
    # the two kept tags are those with the largest robust z-scores
    tagger = ClipZeroShotTagger(encoder, VOCAB, thresholds=-1.0)
    scores = tagger.scores(images).astype(np.float64)
    median = np.median(scores, 0)
    scale = 1.4826 * np.median(np.abs(scores - median), 0)
    z = (scores - median) / scale
    top2 = np.argsort(-z, axis=1)[:, :2]
    np.testing.assert_array_equal(np.sort(np.flatnonzero(capped.matrix[0])), np.sort(top2[0]))


def test_tagger_with_an_evalset_and_indices():
    table, _ = planted_table(n=50)

    class Images:  # an EvalSet-like source
        n = 50

    encoder = FakeEncoder(VOCAB, DEFAULT_TEMPLATES, table)
    tagger = ClipZeroShotTagger(encoder, VOCAB, thresholds=0.2)
    by_index = tagger.tag(Images(), indices=np.arange(10, 20))
    by_array = tagger.tag(index_images(np.arange(10, 20)))
    np.testing.assert_array_equal(by_index.matrix, by_array.matrix)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"vocabulary": []}, ValueError, "no tags"),
        ({"vocabulary": ["a", "a"]}, ValueError, "duplicate"),
        ({"vocabulary": "dog"}, TypeError, "single string"),
        ({"templates": ["a photo of a dog"]}, ValueError, "exactly one"),
        ({"templates": []}, ValueError, "at least one"),
        ({"thresholds": [0.1, 0.2]}, ValueError, "one per tag"),
        ({"thresholds": 3.0}, ValueError, r"\[-1, 1\]"),
        ({"z": float("nan")}, ValueError, "finite"),
        ({"max_tags_per_image": 0}, ValueError, ">= 1"),
    ],
)
def test_tagger_rejects_bad_settings(kwargs, error, match):
    encoder = FakeEncoder(VOCAB, DEFAULT_TEMPLATES, np.zeros((1, 8)))
    kwargs.setdefault("vocabulary", VOCAB)
    with pytest.raises(error, match=match):
        ClipZeroShotTagger(encoder, **kwargs)


def test_tagger_needs_an_encoder():
    with pytest.raises(TypeError, match="encode_images"):
        ClipZeroShotTagger(object(), VOCAB)


def test_tagger_with_a_real_open_clip_encoder():
    torch = pytest.importorskip("torch")
    open_clip = pytest.importorskip("open_clip")
    from open_clip.transform import PreprocessCfg, image_transform_v2

    from failwidgets.features.clip import ClipEncoder

    torch.manual_seed(0)
    config = {
        "embed_dim": 16,
        "vision_cfg": {
            "image_size": 32,
            "layers": 1,
            "width": 32,
            "patch_size": 8,
            "head_width": 16,
        },
        "text_cfg": {
            "context_length": 77,
            "vocab_size": 49408,
            "width": 32,
            "heads": 2,
            "layers": 1,
        },
    }
    model = open_clip.model.CLIP(**config)
    encoder = ClipEncoder(
        model,
        image_transform_v2(PreprocessCfg(size=32), is_train=False),
        open_clip.get_tokenizer("ViT-B-32"),
        device="cpu",
        batch_size=4,
        progress=False,
    )
    images = np.random.default_rng(0).integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    tagger = ClipZeroShotTagger(encoder, VOCAB, z=1.0)
    tags = tagger.tag(images)
    assert tags.matrix.shape == (12, len(VOCAB)) and tags.matrix.dtype == bool
    scores = encoder.encode_images(images) @ tagger.text_embeddings().T
    np.testing.assert_allclose(tagger.scores(images), scores, atol=1e-5)


def test_any_tagger_plugs_in_through_the_protocol():
    class KeywordTagger:  # e.g. a Recognize Anything Model wrapper
        def tag(self, images):
            bright = images.reshape(len(images), -1).mean(1) > 127
            return np.c_[bright, ~bright], ["bright", "dark"]

    images = np.zeros((4, 2, 2, 3), np.uint8)
    images[:2] = 255
    tagger = KeywordTagger()
    assert isinstance(tagger, Tagger)
    tags = run_tagger(tagger, images)
    assert tags.names == ("bright", "dark")
    np.testing.assert_array_equal(tags.matrix[:, 0], [1, 1, 0, 0])

    class Broken:
        def tag(self, images):
            return np.zeros((len(images) + 1, 1), bool), ["x"]

    with pytest.raises(ValueError, match="rows for 4"):
        run_tagger(Broken(), images)
    with pytest.raises(TypeError, match="tagger"):
        run_tagger(object(), images)

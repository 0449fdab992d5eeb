"""The demo CLIP: attribute captions, open_clip training on a tiny budget, shipped weights."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import torch

from failwidgets.datasets import COLOURS, PARTS, make_world
from failwidgets.demo._common import WEIGHTS_DIR, images_to_tensor
from failwidgets.demo.clip_model import (
    BACKGROUND_PHRASES,
    DEFAULT_CLIP_CONFIG,
    TEXTURE_ADJECTIVES,
    TEXTURE_SUFFIXES,
    _epoch_batches,
    _normalise,
    build_clip,
    caption_attributes,
    evaluate_zero_shot,
    load_clip,
    make_preprocess,
    make_tokenizer,
    save_clip,
    train_clip,
    zero_shot_prompts,
)

TINY_CONFIG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 64, "patch_size": 16, "width": 32, "layers": 1, "head_width": 16},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def small_world():
    return make_world(n_images=400, image_size=64, seed=0)


def _words(text):
    return set(re.findall(r"[a-z]+", text))


# --------------------------------------------------------------------------- captions
def test_captions_only_name_true_attributes():
    rows = pd.DataFrame(
        {
            "class_name": ["star", "arrow", "ring"],
            "colour": ["red", "blue", "yellow"],
            "texture": ["stripes", "dots", "checker"],
            "background": ["grass", "water", "sky"],
            "size": [0.2, 0.3, 0.25],
            "brightness": [1.0, 0.8, 1.2],
            "x": [0.5, 0.5, 0.5],
            "blur": [0.0, 1.0, 0.0],
            "noise": [0.0, 0.05, 0.0],
            "occluder": [False, True, False],
            "distractor": [False, False, True],
            "has_part": [True, False, True],
        }
    )
    captions = [caption_attributes(rows, rng=seed) for seed in range(150)]
    other_texture_words = {
        t: {w for u, ws in TEXTURE_ADJECTIVES.items() if u != t for w in ws}
        | {w for u, ws in TEXTURE_SUFFIXES.items() if u != t for w in ws}
        for t in TEXTURE_ADJECTIVES
    }
    for i, row in rows.iterrows():
        texts = [c[i] for c in captions]
        for text in texts:
            words = _words(text)
            assert not (words & (set(COLOURS) - {row.colour}))  # no wrong colour
            assert not any(p in text for p in other_texture_words[row.texture])
            for bg, phrases in BACKGROUND_PHRASES.items():
                if bg != row.background:
                    assert not any(p in text for p in phrases)
            if row["size"] >= 0.22:
                assert not words & {"small", "tiny"}
            if row["size"] <= 0.28:
                assert not words & {"large", "big"}
            if row.brightness >= 0.87:
                assert not words & {"dark", "dim"}
            if row.brightness <= 1.13:
                assert "bright" not in words
            if not row.occluder:
                assert "hidden" not in words and "covered" not in words
            if row.has_part:
                assert "without" not in words
        joined = " | ".join(texts)
        assert row.colour in joined and any(p in joined for p in BACKGROUND_PHRASES[row.background])
        assert row.class_name in joined
    assert any(f"arrow without its {PARTS['arrow']}" in c[1] for c in captions)
    assert any("hidden" in c[1] or "covered" in c[1] for c in captions)
    assert any("pebble" in c[2] for c in captions)
    assert captions[0] == caption_attributes(rows, rng=0)  # seeded


def test_caption_bad_input():
    with pytest.raises(TypeError, match="DataFrame"):
        caption_attributes([{"class_name": "star"}])
    with pytest.raises(ValueError, match="class_name"):
        caption_attributes(pd.DataFrame({"colour": ["red"]}))


def test_zero_shot_prompts_are_in_caption_language():
    prompts = zero_shot_prompts(["arrow", "star"])
    assert prompts["class"] == {"arrow": "a photo of an arrow", "star": "a photo of a star"}
    assert prompts["background"]["grass"] == "a photo of an object on grass"
    assert prompts["texture"]["stripes"] == "a photo of a striped object"


def test_epoch_batches_hard_share():
    groups = torch.tensor([0] * 60 + [1] * 40)
    generator = torch.Generator().manual_seed(0)
    for hard, min_pure in ((0.0, 0), (0.5, 4), (1.0, 10)):
        batches = _epoch_batches(groups, 10, hard, generator)
        flat = torch.cat(batches)
        assert len(set(flat.tolist())) == len(flat)  # no sample twice
        assert all(len(b) == 10 for b in batches) and len(batches) >= 9
        pure = sum(len(set(groups[b].tolist())) == 1 for b in batches)
        assert pure >= min_pure
    assert len(_epoch_batches(groups, 10, 1.0, generator)) == 10


# --------------------------------------------------------------------------- open_clip pieces
def test_preprocess_matches_training_normalisation(small_world):
    from PIL import Image

    preprocess = make_preprocess(64)
    images = small_world.images[:3]
    expected = _normalise(images_to_tensor(images))
    got = torch.stack([preprocess(Image.fromarray(im)) for im in images])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_train_clip_tiny_budget_round_trips(tmp_path, small_world):
    from open_clip.loss import ClipLoss
    from open_clip.model import CLIP

    torch.set_num_threads(1)
    model = train_clip(small_world, epochs=4, seed=0, batch_size=32, max_samples=96, lr=3e-3,
                       hard_batches=0.0, config=TINY_CONFIG, splits="train")  # fmt: skip
    assert isinstance(model, CLIP) and not model.training
    state = model.state_dict()
    for key, value in state.items():  # float16-exact, so saving loses nothing
        if value.is_floating_point():
            assert torch.equal(value, value.half().float()), key
    used = (state["token_embedding.weight"].abs().sum(1) > 0).sum()
    assert 20 < int(used) < 400  # only the caption vocabulary was trained/kept

    # training lowered the contrastive loss on a batch of its images with fresh captions
    idx = np.flatnonzero(small_world.split == "train")[:32]
    tokens = make_tokenizer(32)(caption_attributes(small_world.attributes.iloc[idx], rng=5))
    images = _normalise(images_to_tensor(small_world.images[idx]))
    torch.manual_seed(0)  # train_clip's initial weights
    untrained = build_clip(TINY_CONFIG)
    with torch.no_grad():
        loss_before = float(ClipLoss()(*untrained(images, tokens)))
        loss_after = float(ClipLoss()(*model(images, tokens)))
    assert loss_after < loss_before - 0.5

    save_clip(model, tmp_path, training={"epochs": 4})
    loaded, preprocess, tokenizer = load_clip(tmp_path)
    assert (tmp_path / "clip.pt").stat().st_size < 2**20
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert tokenizer(["a photo of a star"]).shape == (1, 32)
    config = json.loads((tmp_path / "clip.json").read_text())
    assert config["architecture"] == TINY_CONFIG and config["training"] == {"epochs": 4}


def test_train_clip_bad_input(small_world):
    with pytest.raises(ValueError, match="epochs"):
        train_clip(small_world, epochs=0)
    with pytest.raises(ValueError, match="splits"):
        train_clip(small_world, splits="holdout")
    with pytest.raises(TypeError, match="world"):
        train_clip(object())
    small = make_world(n_images=20, image_size=32, seed=0)
    with pytest.raises(ValueError, match="64x64"):
        train_clip(small, epochs=1)


# --------------------------------------------------------------------------- shipped weights
def test_shipped_clip_zero_shot_well_above_chance():
    for name in ("clip.pt", "clip.json"):
        assert (WEIGHTS_DIR / name).is_file(), f"missing shipped weights {name}"
    assert (WEIGHTS_DIR / "clip.pt").stat().st_size <= 5 * 2**20
    torch.set_num_threads(1)
    model, preprocess, tokenizer = load_clip()
    assert model.demo_config["architecture"] == DEFAULT_CLIP_CONFIG
    world = make_world(n_images=2000, image_size=64, seed=0)
    assert model.demo_config["training"]["class_names"] == world.class_names  # not stale
    test = world.indices("test")  # 300 images
    result = evaluate_zero_shot(model, tokenizer, world, test)
    print("shipped CLIP zero-shot on", result["n"], "demo test images:", result)
    assert result["class"] > 0.6  # chance 1/8
    assert result["background"] > 0.8  # chance 1/5
    assert result["colour"] > 0.8  # chance 1/6
    assert result["texture"] > 0.5  # chance 1/4

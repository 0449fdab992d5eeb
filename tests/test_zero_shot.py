"""ZeroShotClassifier: CLIP zero-shot logits as a torch classifier, checked against the
encoder's own embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from failwidgets.demo.clip_model import load_clip
from failwidgets.models import ZeroShotClassifier

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def clip():
    return load_clip()


def test_logits_are_scaled_cosines_of_image_and_prompt_embeddings(clip):
    model, _, tokenizer = clip
    names = ["circle", "square", "star"]
    classifier = ZeroShotClassifier(model, tokenizer, names, image_size=64)
    x = torch.rand(5, 3, 64, 64)
    with torch.inference_mode():
        logits = classifier(x)
        mean, std = classifier.mean, classifier.std
        image = torch.nn.functional.normalize(model.encode_image((x - mean) / std).float(), dim=-1)
        text = torch.nn.functional.normalize(
            model.encode_text(tokenizer([f"a photo of a {c}." for c in names])).float(), dim=-1
        )
    np.testing.assert_allclose(logits, classifier.scale * image @ text.T, rtol=1e-5, atol=1e-5)
    assert logits.shape == (5, 3)


def test_images_of_another_size_are_resized(clip):
    model, _, tokenizer = clip
    classifier = ZeroShotClassifier(model, tokenizer, ["a", "b"], image_size=64)
    with torch.inference_mode():
        assert classifier(torch.rand(2, 3, 32, 48)).shape == (2, 2)


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(class_names=[]), ValueError, r"^class_names"),
        (dict(class_names=["a"], template="a photo"), ValueError, r"^template"),
    ],
)
def test_bad_arguments(clip, kwargs, error, pattern):
    model, _, tokenizer = clip
    with pytest.raises(error, match=pattern):
        ZeroShotClassifier(model, tokenizer, **kwargs)


def test_model_must_be_clip():
    with pytest.raises(TypeError, match=r"^model: an open_clip model"):
        ZeroShotClassifier(torch.nn.Linear(2, 2), lambda t: t, ["a"])

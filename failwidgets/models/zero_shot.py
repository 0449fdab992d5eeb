"""A CLIP zero-shot classifier as an ordinary torch classifier (pixels in, logits out)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["ZeroShotClassifier"]

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


class ZeroShotClassifier(nn.Module):
    """Logits ``scale * <image, text(c)>`` of unit CLIP embeddings, one text per class.

    A pretrained CLIP is an image classifier that needs no training, so it is a quick model
    to inspect with failwidgets (and a real one: zero-shot CLIP has known failure modes).

    Parameters
    ----------
    model : open_clip model (``encode_image``, ``encode_text``).
    tokenizer : open_clip tokenizer.
    class_names : the classes, in label order.
    template : prompt with one ``{}`` for the class name.
    image_size : side the images are resized to (default: the model's own input size).
    mean, std : the model's pixel normalisation (default: OpenAI CLIP's).

    Inputs are float images in [0, 1], (N, 3, H, W), as :meth:`EvalSet.from_model` gives them.
    """

    def __init__(
        self,
        model,
        tokenizer,
        class_names: Sequence[str],
        *,
        template: str = "a photo of a {}.",
        image_size: int | None = None,
        mean: Sequence[float] = OPENAI_MEAN,
        std: Sequence[float] = OPENAI_STD,
    ):
        super().__init__()
        for method in ("encode_image", "encode_text"):
            if not callable(getattr(model, method, None)):
                raise TypeError(f"model: an open_clip model is needed; {method} is missing")
        if isinstance(class_names, str) or not len(class_names):
            raise ValueError("class_names: expected a non-empty list of class names")
        if template.count("{}") != 1:
            raise ValueError(f"template: needs exactly one '{{}}', got {template!r}")
        self.model = model.eval()
        size = image_size or getattr(getattr(model, "visual", None), "image_size", 224)
        self.image_size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        with torch.inference_mode():
            text = model.encode_text(tokenizer([template.format(c) for c in class_names]))
        self.register_buffer("text", nn.functional.normalize(text.float(), dim=-1).clone())
        scale = getattr(model, "logit_scale", None)
        self.scale = float(scale.exp()) if scale is not None else 100.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.image_size:
            x = nn.functional.interpolate(
                x, size=self.image_size, mode="bicubic", antialias=True, align_corners=False
            )
        x = (x - self.mean) / self.std
        image = nn.functional.normalize(self.model.encode_image(x).float(), dim=-1)
        return self.scale * image @ self.text.T

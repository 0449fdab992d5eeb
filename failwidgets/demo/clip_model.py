"""The demo's CLIP-style model, built from open_clip's own classes and trained with its loss.

A small ``open_clip.model.CLIP`` (open_clip's ModifiedResNet image tower, its transformer
text tower) is trained with ``open_clip.loss.ClipLoss`` on captions composed from the world's
ground-truth attributes
("a photo of a small red striped star on grass, partly hidden behind a grey box"). It uses
open_clip's BPE tokenizer (shipped inside open_clip) with a 32-token context, and an
open_clip-compatible eval transform, so every consumer runs the same code path as with a real
pretrained model: ``model.encode_image(preprocess(pil))``, ``model.encode_text(tokenizer(t))``.

Like a real CLIP, it is pre-trained on data independent of the classifier's: by default an
unbiased world (another seed, no planted failures except that arrows and rings lack their part
in a quarter of the images, in every split), all splits.

Re-train the shipped weights with (``clip.json`` records the time it took)::

    python -m failwidgets.demo.clip_model
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from ._common import images_to_tensor, read_weights, retraining_parser, write_weights

__all__ = [
    "CAPTION_VOCABULARY",
    "DEFAULT_CLIP_CONFIG",
    "build_clip",
    "caption_attributes",
    "evaluate_zero_shot",
    "load_clip",
    "make_preprocess",
    "make_tokenizer",
    "pretraining_world",
    "save_clip",
    "train_clip",
    "zero_shot_prompts",
]

WEIGHTS_NAME = "clip"
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

DEFAULT_CLIP_CONFIG = {
    "embed_dim": 128,
    "vision_cfg": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 16, "head_width": 32},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 128, "heads": 4, "layers": 2},
    "quick_gelu": False,
}

# ---------------------------------------------------------------------- caption vocabulary
# Words and phrases the captions use for each attribute value. The first entry of each list is
# the canonical one (zero-shot prompts and candidate captions use it).
TEXTURE_ADJECTIVES = {
    "solid": ["solid", "single-coloured"],
    "stripes": ["striped"],
    "dots": ["dotted", "spotted"],
    "checker": ["checkered", "chequered"],
}
TEXTURE_SUFFIXES = {
    "solid": ["in a single colour"],
    "stripes": ["with stripes"],
    "dots": ["with dots", "with polka dots"],
    "checker": ["with a checker pattern", "with checks"],
}
BACKGROUND_PHRASES = {
    "plain": ["on a plain background", "on a blank background"],
    "grass": ["on grass", "in the grass", "on a lawn"],
    "water": ["on water", "in the water"],
    "sand": ["on sand", "in the sand", "on the beach"],
    "sky": ["in the sky", "against the sky"],
}
BACKGROUND_NOUNS = {
    "plain": "a plain background",
    "grass": "grass",
    "water": "water",
    "sand": "sand",
    "sky": "the sky",
}
SIZE_WORDS = {"small": ["small", "tiny"], "large": ["large", "big"]}
BRIGHTNESS_WORDS = {"dark": ["dark", "dim"], "bright": ["bright"]}
BLUR_WORDS = ["blurry", "out of focus"]
NOISE_WORDS = ["noisy", "grainy"]
OCCLUDER_PHRASES = ["partly hidden behind a grey box", "partly covered by a grey block"]
DISTRACTOR_PHRASES = ["next to a pebble", "with a pebble nearby"]
GENERIC_NOUNS = ["object", "shape", "thing"]
PREFIXES = ["a photo of", "a photo of", "a photo of", "a picture of", "an image of", ""]

CAPTION_VOCABULARY = {
    "texture_adjectives": {k: v[0] for k, v in TEXTURE_ADJECTIVES.items()},
    "background_phrases": {k: v[0] for k, v in BACKGROUND_PHRASES.items()},
    "background_nouns": dict(BACKGROUND_NOUNS),
    "size": {k: v[0] for k, v in SIZE_WORDS.items()},
    "brightness": {k: v[0] for k, v in BRIGHTNESS_WORDS.items()},
    "blur": BLUR_WORDS[0],
    "noise": NOISE_WORDS[0],
    "occluder": OCCLUDER_PHRASES[0],
    "distractor": DISTRACTOR_PHRASES[0],
}

# thresholds turning the world's numeric attributes into words (middle values get none)
_SMALL, _LARGE = 0.22, 0.28  # object radius / image size (world: uniform 0.18..0.32)
_DARK, _BRIGHT = 0.87, 1.13  # brightness multiplier (world: uniform 0.75..1.25)
_NOISY = 0.04  # pixel noise std (world: uniform 0..0.06)
_LEFT, _RIGHT = 0.4, 0.6  # object centre / image size


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _choice(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _caption_one(row: dict, rng: np.random.Generator, parts: dict) -> str:
    """One caption of one image: a random subset of its attributes in a random template."""
    cls = str(row["class_name"])
    colour = str(row["colour"]) if "colour" in row else None
    texture = str(row["texture"]) if "texture" in row else None
    background = str(row["background"]) if "background" in row else None

    if background is not None and rng.random() < 0.05:  # a bare scene / colour / texture tag
        kind = int(rng.integers(3))
        if kind == 0:
            return f"a photo of {BACKGROUND_NOUNS[background]}"
        if kind == 1 and colour is not None:
            return f"something {colour}"
        if texture is not None:
            return f"a {_choice(rng, TEXTURE_ADJECTIVES[texture])} pattern"

    missing_part = "has_part" in row and not bool(row["has_part"])
    use_class = rng.random() < (0.95 if missing_part else 0.85)
    noun = cls if use_class else _choice(rng, GENERIC_NOUNS)
    adjectives, suffixes, extras = [], [], []
    if "size" in row and rng.random() < 0.35:
        if row["size"] < _SMALL:
            adjectives.append(_choice(rng, SIZE_WORDS["small"]))
        elif row["size"] > _LARGE:
            adjectives.append(_choice(rng, SIZE_WORDS["large"]))
    if "brightness" in row and rng.random() < 0.3:
        if row["brightness"] < _DARK:
            adjectives.append(_choice(rng, BRIGHTNESS_WORDS["dark"]))
        elif row["brightness"] > _BRIGHT:
            adjectives.append(_choice(rng, BRIGHTNESS_WORDS["bright"]))
    if colour is not None and rng.random() < 0.6:
        adjectives.append(colour)
    if texture is not None and rng.random() < 0.6:
        if rng.random() < 0.65:
            adjectives.append(_choice(rng, TEXTURE_ADJECTIVES[texture]))
        else:
            suffixes.append(_choice(rng, TEXTURE_SUFFIXES[texture]))
    if missing_part and use_class and rng.random() < 0.9:
        suffixes.append(f"without its {parts.get(cls, 'part')}")
    if background is not None and rng.random() < 0.6:
        suffixes.append(_choice(rng, BACKGROUND_PHRASES[background]))
    if "x" in row and rng.random() < 0.15:
        if row["x"] < _LEFT:
            extras.append("on the left")
        elif row["x"] > _RIGHT:
            extras.append("on the right")
    if "occluder" in row and bool(row["occluder"]) and rng.random() < 0.5:
        extras.append(_choice(rng, OCCLUDER_PHRASES))
    if "distractor" in row and bool(row["distractor"]) and rng.random() < 0.4:
        extras.append(_choice(rng, DISTRACTOR_PHRASES))
    if "blur" in row and row["blur"] > 0 and rng.random() < 0.3:
        extras.append(_choice(rng, BLUR_WORDS))
    if "noise" in row and row["noise"] > _NOISY and rng.random() < 0.2:
        extras.append(_choice(rng, NOISE_WORDS))

    phrase = " ".join([*adjectives, noun, *suffixes])
    prefix = _choice(rng, PREFIXES)
    text = f"{prefix} {_article(phrase)} {phrase}" if prefix else f"{_article(phrase)} {phrase}"
    if extras:
        text += ", " + ", ".join(extras[:2])
    return text


def caption_attributes(attributes: pd.DataFrame, rng=None) -> list[str]:
    """Random captions composed from a world's attribute table, one per row.

    Each caption names a random subset of the row's attributes in one of several templates,
    e.g. "a photo of a small red striped star on grass" or "an image of a dotted object,
    partly hidden behind a grey box". Needs a ``class_name`` column; uses ``colour``,
    ``texture``, ``background``, ``size``, ``brightness``, ``x``, ``blur``, ``noise``,
    ``occluder``, ``distractor`` and ``has_part`` when present.
    """
    if not isinstance(attributes, pd.DataFrame):
        raise TypeError(f"attributes: expected a DataFrame, got {type(attributes).__name__}")
    if "class_name" not in attributes.columns:
        raise ValueError("attributes: needs a 'class_name' column")
    from failwidgets.datasets import PARTS

    rng = np.random.default_rng(rng)
    return [_caption_one(row, rng, PARTS) for row in attributes.to_dict("records")]


def zero_shot_prompts(class_names: Sequence[str]) -> dict[str, dict[str, str]]:
    """Canonical prompts per attribute: ``{"class": {name: prompt}, "background": ..., ...}``."""
    return {
        "class": {c: f"a photo of {_article(c)} {c}" for c in class_names},
        "background": {b: f"a photo of an object {p[0]}" for b, p in BACKGROUND_PHRASES.items()},
        "colour": {c: f"a photo of {_article(c)} {c} object" for c in _world_colours()},
        "texture": {t: f"a photo of a {w[0]} object" for t, w in TEXTURE_ADJECTIVES.items()},
    }


def _world_colours() -> list[str]:
    from failwidgets.datasets import COLOURS

    return list(COLOURS)


# ---------------------------------------------------------------------- model pieces
def build_clip(config: dict | None = None):
    """An untrained ``open_clip.model.CLIP`` from a config like :data:`DEFAULT_CLIP_CONFIG`."""
    from open_clip.model import CLIP

    config = DEFAULT_CLIP_CONFIG if config is None else config
    missing = {"embed_dim", "vision_cfg", "text_cfg"} - set(config)
    if missing:
        raise ValueError(f"config: missing keys {sorted(missing)}")
    return CLIP(
        embed_dim=int(config["embed_dim"]),
        vision_cfg=dict(config["vision_cfg"]),
        text_cfg=dict(config["text_cfg"]),
        quick_gelu=bool(config.get("quick_gelu", False)),
    )


def make_tokenizer(context_length: int = 32):
    """open_clip's BPE tokenizer (its vocabulary ships inside open_clip) with a short context."""
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer(context_length=int(context_length))


def make_preprocess(image_size: int = 64, mean=OPENAI_MEAN, std=OPENAI_STD):
    """open_clip's eval transform (resize, centre crop, to tensor, normalise) for PIL images."""
    from open_clip.transform import image_transform

    return image_transform(int(image_size), is_train=False, mean=tuple(mean), std=tuple(std))


def _normalise(x: torch.Tensor, mean=OPENAI_MEAN, std=OPENAI_STD) -> torch.Tensor:
    mean_t = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean_t) / std_t


def pretraining_world(n_images: int = 20000, seed: int = 1, missing_part_rate: float = 0.25):
    """An unbiased world to pre-train the demo CLIP on, independent of the classifier's world.

    No planted failure biases it, except that arrows and rings lack their distinguishing part
    in ``missing_part_rate`` of their images in every split, so the captions can name it.
    """
    from failwidgets.datasets import PARTS, make_world, missing_part

    failures = [
        missing_part(c, train_member=missing_part_rate, eval_member=missing_part_rate)
        for c in PARTS
    ]
    return make_world(n_images=n_images, image_size=64, seed=seed, failures=failures)


def _world_arrays(world, splits):
    for name in ("images", "labels", "class_names", "split", "attributes"):
        if not hasattr(world, name):
            raise TypeError(
                f"world: expected a failwidgets.datasets.World-like object, it has no .{name}"
            )
    images = np.asarray(world.images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"world.images: expected uint8 (N, H, W, 3), got {images.dtype} {images.shape}"
        )
    if len(world.attributes) != len(images):
        raise ValueError("world.attributes: needs one row per image")
    if isinstance(splits, str):
        splits = (splits,)
    keep = np.isin(np.asarray(world.split).astype(str), list(splits))
    if not keep.any():
        raise ValueError(f"splits: no images in {list(splits)}")
    index = np.flatnonzero(keep)
    return images[index], world.attributes.iloc[index].reset_index(drop=True)


# ---------------------------------------------------------------------- training
def _round_to_half(model) -> None:
    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())


def _epoch_batches(groups: torch.Tensor, batch_size: int, hard: float, generator) -> list:
    """One epoch's batches: a ``hard`` share of them within one group, the rest random.

    Every sample appears at most once; incomplete batches are dropped.
    """
    n = len(groups)
    order = torch.randperm(n, generator=generator)
    n_hard = int(round(hard * n))
    hard_part, easy_part = order[:n_hard], order[n_hard:]
    batches = []
    for group in torch.unique(groups):
        members = hard_part[groups[hard_part] == group]
        batches += [members[i : i + batch_size] for i in range(0, len(members), batch_size)]
    batches += [easy_part[i : i + batch_size] for i in range(0, len(easy_part), batch_size)]
    batches = [b for b in batches if len(b) == batch_size]
    shuffle = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in shuffle]


def train_clip(
    world,
    *,
    epochs: int = 15,
    seed: int = 0,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.1,
    splits: Sequence[str] | str = ("train", "val", "test"),
    hard_batches: float = 0.5,
    max_samples: int | None = None,
    config: dict | None = None,
    verbose: bool = False,
):
    """Train a small open_clip ``CLIP`` with ``ClipLoss`` on captions of the world's images.

    Captions are re-drawn every epoch (:func:`caption_attributes`), tokenised by open_clip's
    tokenizer; AdamW with linear warm-up then cosine decay; the logit scale is clamped to
    ln(100) as open_clip's trainer does. After training, token-embedding rows of tokens that
    never occurred are zeroed and all weights are rounded to float16 precision, so the returned
    model equals what :func:`save_clip` / :func:`load_clip` round-trip.

    Parameters
    ----------
    world : a :class:`failwidgets.datasets.World` (``images``, ``attributes``, ``split``...);
        the default weights use :func:`pretraining_world`.
    splits : which of the world's splits to train on.
    hard_batches : fraction of the batches drawn from images sharing one background (hard
        negatives: the background cannot tell them apart, so class, colour and texture must);
        the other batches are uniformly random.
    max_samples : train on the first ``max_samples`` selected images (tests, quick runs).

    Returns
    -------
    ``open_clip.model.CLIP`` in eval mode, with ``model.demo_config`` set.
    """
    from open_clip.loss import ClipLoss

    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs: must be a positive integer, got {epochs}")
    if int(batch_size) != batch_size or batch_size < 2:
        raise ValueError(f"batch_size: must be an integer >= 2, got {batch_size}")
    if not lr > 0:
        raise ValueError(f"lr: must be positive, got {lr}")
    if not 0 <= hard_batches <= 1:
        raise ValueError(f"hard_batches: must lie in [0, 1], got {hard_batches}")
    config = dict(DEFAULT_CLIP_CONFIG if config is None else config)
    images, attributes = _world_arrays(world, splits)
    if max_samples is not None:
        if int(max_samples) != max_samples or max_samples < 2:
            raise ValueError(f"max_samples: must be an integer >= 2, got {max_samples}")
        images, attributes = images[: int(max_samples)], attributes.iloc[: int(max_samples)]
    image_size = int(config["vision_cfg"]["image_size"])
    if images.shape[1:3] != (image_size, image_size):
        raise ValueError(
            f"world.images: the model expects {image_size}x{image_size} images, got "
            f"{images.shape[1]}x{images.shape[2]}"
        )

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    model = build_clip(config)
    tokenizer = make_tokenizer(config["text_cfg"]["context_length"])
    loss_fn = ClipLoss()
    seen_tokens = torch.zeros(model.vocab_size, dtype=torch.bool)

    decay, no_decay = [], []
    for name, param in model.named_parameters():
        exempt = param.ndim < 2 or "embedding" in name or "logit_scale" in name
        (no_decay if exempt else decay).append(param)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0}],
        lr=lr,
        betas=(0.9, 0.98),
        eps=1e-6,
    )
    n = len(images)
    batch_size = min(int(batch_size), n)
    if "background" in attributes.columns:
        groups = torch.from_numpy(pd.factorize(attributes["background"])[0].astype(np.int64))
    else:
        groups = torch.zeros(n, dtype=torch.int64)
    schedule_batches = [
        _epoch_batches(groups, batch_size, hard_batches, generator) for _ in range(int(epochs))
    ]
    total = sum(len(b) for b in schedule_batches)
    warmup = max(1, total // 20)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    data = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)  # uint8 NCHW
    model.train()
    for epoch in range(int(epochs)):
        start = time.perf_counter()
        captions = caption_attributes(attributes, rng)
        tokens = tokenizer(captions)
        seen_tokens[tokens.unique()] = True
        batches = schedule_batches[epoch]
        total_loss = 0.0
        for idx in batches:
            x = _normalise(data[idx].float().div_(255.0))
            image_features, text_features, logit_scale = model(x, tokens[idx])
            loss = loss_fn(image_features, text_features, logit_scale)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
            total_loss += float(loss.detach())
        if verbose:
            print(
                f"epoch {epoch + 1}/{epochs}: contrastive loss "
                f"{total_loss / max(1, len(batches)):.3f}, logit scale "
                f"{float(model.logit_scale.detach().exp()):.1f} ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
    model.eval()
    with torch.no_grad():
        model.token_embedding.weight[~seen_tokens] = 0.0
    _round_to_half(model)
    model.demo_config = {"architecture": config, "mean": OPENAI_MEAN, "std": OPENAI_STD}
    return model


@torch.no_grad()
def _encode_images(model, images: np.ndarray, batch_size: int = 512) -> torch.Tensor:
    feats = []
    for start in range(0, len(images), batch_size):
        x = _normalise(images_to_tensor(images[start : start + batch_size]))
        feats.append(model.encode_image(x, normalize=True))
    return torch.cat(feats)


@torch.no_grad()
def evaluate_zero_shot(model, tokenizer, world, indices=None) -> dict:
    """Zero-shot accuracy of ``model`` for class, background, colour and texture.

    Each image is assigned the attribute value whose canonical prompt
    (:func:`zero_shot_prompts`) is most similar to it. Returns ``{attribute: accuracy}`` plus
    ``"chance"`` (``{attribute: 1 / number of values}``) and ``"n"``.
    """
    indices = np.arange(len(world.labels)) if indices is None else np.asarray(indices)
    if len(indices) == 0:
        raise ValueError("indices: need at least one image")
    was_training = model.training
    model.eval()
    image_features = _encode_images(model, np.asarray(world.images)[indices])
    prompts = zero_shot_prompts(world.class_names)
    truth = {
        "class": np.asarray(world.class_names, dtype=object)[np.asarray(world.labels)[indices]],
        "background": world.attributes["background"].to_numpy()[indices],
        "colour": world.attributes["colour"].to_numpy()[indices],
        "texture": world.attributes["texture"].to_numpy()[indices],
    }
    result: dict = {"n": len(indices), "chance": {}}
    for attribute, table in prompts.items():
        values = list(table)
        text_features = model.encode_text(tokenizer(list(table.values())), normalize=True)
        guess = np.asarray(values, dtype=object)[
            (image_features @ text_features.T).argmax(1).numpy()
        ]
        result[attribute] = float(np.mean(guess == truth[attribute]))
        result["chance"][attribute] = 1.0 / len(values)
    model.train(was_training)
    return result


# ---------------------------------------------------------------------- weights
def save_clip(model, directory=None, *, training=None, metrics=None):
    """Write ``clip.pt`` and ``clip.json``; weights as float16, token embedding stored sparse.

    Only the token-embedding rows that are not all zero (tokens seen in training) are stored,
    as ``token_embedding.rows`` (ids) and ``token_embedding.values``; the vocabulary is
    49408 tokens, the captions use a few hundred.
    """
    config = getattr(model, "demo_config", None)
    if config is None or "architecture" not in config:
        raise ValueError("model: expected a model from train_clip() or load_clip() (demo_config)")
    state = {}
    for key, value in model.state_dict().items():
        state[key] = value.half() if value.is_floating_point() else value
    embedding = state.pop("token_embedding.weight")
    rows = torch.nonzero(embedding.abs().sum(1) > 0).flatten()
    state["token_embedding.rows"] = rows
    state["token_embedding.values"] = embedding[rows]
    full_config = {
        "format": 1,
        "architecture": config["architecture"],
        "mean": list(config["mean"]),
        "std": list(config["std"]),
        "vocab_size": int(embedding.shape[0]),
        "training": training or {},
        "metrics": metrics or {},
    }
    return write_weights(WEIGHTS_NAME, state, full_config, directory)


def load_clip(directory=None):
    """The shipped demo CLIP as ``(model, preprocess, tokenizer)``, like open_clip's loaders.

    ``model`` is an ``open_clip.model.CLIP`` in eval mode (CPU, float32); ``preprocess`` is
    open_clip's eval transform for 64x64 PIL images; ``tokenizer`` is open_clip's
    ``SimpleTokenizer`` with the model's context length.
    """
    tensors, config = read_weights(WEIGHTS_NAME, directory)
    architecture = config["architecture"]
    model = build_clip(architecture)
    rows = tensors.pop("token_embedding.rows")
    values = tensors.pop("token_embedding.values")
    embedding = torch.zeros(config["vocab_size"], values.shape[1])
    embedding[rows] = values.float()
    tensors["token_embedding.weight"] = embedding
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    model.load_state_dict(tensors)
    model.demo_config = config
    model.eval()
    preprocess = make_preprocess(
        architecture["vision_cfg"]["image_size"], config["mean"], config["std"]
    )
    tokenizer = make_tokenizer(architecture["text_cfg"]["context_length"])
    return model, preprocess, tokenizer


def main(argv=None) -> None:  # pragma: no cover - exercised by the re-training command
    import json

    from failwidgets.datasets import make_world

    parser = retraining_parser("Re-train the shipped demo CLIP model.", epochs=15)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    pretrain_args = {"n_images": 20000, "seed": 1, "missing_part_rate": 0.25}
    world = pretraining_world(**pretrain_args)
    start = time.perf_counter()
    model = train_clip(world, epochs=args.epochs, seed=args.seed, verbose=True)
    seconds = time.perf_counter() - start
    tokenizer = make_tokenizer(DEFAULT_CLIP_CONFIG["text_cfg"]["context_length"])
    demo_world = make_world(n_images=20000, image_size=64, seed=0)
    test = demo_world.indices("test")[: args.eval_samples]
    metrics = {"demo_world_test": evaluate_zero_shot(model, tokenizer, demo_world, test)}
    training = {
        "world": {"function": "pretraining_world", **pretrain_args},
        "splits": ["train", "val", "test"],
        "class_names": list(world.class_names),
        "epochs": args.epochs,
        "seed": args.seed,
        "threads": args.threads,
        "seconds": round(seconds, 1),
        "torch": torch.__version__,
    }
    path = save_clip(model, args.out, training=training, metrics=metrics)
    print(json.dumps({"weights": str(path), "seconds": round(seconds, 1), **metrics}))


if __name__ == "__main__":  # pragma: no cover
    main()

"""CLIP image and text embeddings through open_clip, batched, fast on a GPU and cached.

:class:`ClipEncoder` wraps any open_clip model (a pretrained one, or a small demo model)
with its image preprocessing and tokenizer.

Speed: images travel to the device as uint8 (pinned, non-blocking; the next batch is
prepared in a background thread), open_clip's resize / centre crop / normalise run there as
batched tensor operations (other transforms fall back to one PIL image at a time on the
host), the model runs under ``torch.inference_mode`` (and ``torch.autocast`` with
``autocast="bf16"``), and embeddings stay on the device until one copy at the end.

Cache: image embeddings are cached under a key made of the images' fingerprint (never every
pixel; see :meth:`ClipEncoder.encode_images`), the model's identity, the preprocessing, the
normalisation and the autocast precision: on disk when ``cache_dir`` is given, and in memory.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..checks import check_strings
from ..models.openclip import cached_weights, is_offline
from .cache import save_array_atomic, state_digest
from .clip_inputs import BatchedPreprocess, ImageBatches

if TYPE_CHECKING:
    import torch

__all__ = ["ClipEncoder"]

_CACHE_VERSION = "failwidgets-clip-embeddings-v2"


class ClipEncoder:
    """Batched, cached CLIP embeddings of images and texts.

    Parameters
    ----------
    model : open_clip model with ``encode_image`` and ``encode_text``.
    preprocess : open_clip's evaluation image transform (``create_model_and_transforms``'s
        third return value); a PIL image -> (3, S, S) tensor callable.
    tokenizer : open_clip tokenizer; ``tokenizer(list_of_str)`` -> (T, context_length) tensor.
    device : torch device; default "cuda" when available, else "cpu". The model is moved
        there and put in eval mode.
    batch_size : images (or texts) per forward pass.
    cache_dir : folder for cached image embeddings (``.npy``); in memory only when None.
    normalize : L2-normalise the embeddings (CLIP's shared space is one of unit vectors).
    model_id : stable identity of the model's weights for the cache (e.g.
        ``"ViT-B-32:openai"``). Default with ``cache_dir``: a hash of the model's state dict,
        computed once per encoder (at its first call; about a second for ViT-B-32); without
        ``cache_dir``: the model object itself.
    progress : show a tqdm progress bar counting images (its rate reads img/s).
    autocast : None (float32), ``"bf16"``, ``"fp16"`` or a torch dtype: run the model under
        :func:`torch.autocast` (image and text passes); embeddings are returned as float32.
    """

    def __init__(
        self,
        model,
        preprocess: Callable,
        tokenizer: Callable,
        device=None,
        batch_size: int = 256,
        cache_dir: str | os.PathLike | None = None,
        normalize: bool = True,
        model_id: str | None = None,
        progress: bool = True,
        autocast=None,
    ):
        import torch

        from ..inference import resolve_autocast

        for name, fn in (
            ("model.encode_image", "encode_image"),
            ("model.encode_text", "encode_text"),
        ):
            if not callable(getattr(model, fn, None)):
                raise TypeError(f"model: an open_clip model is needed; {name} is missing")
        if not callable(preprocess):
            raise TypeError(f"preprocess: expected a callable transform, got {type(preprocess)}")
        if not callable(tokenizer):
            raise TypeError(f"tokenizer: expected a callable tokenizer, got {type(tokenizer)}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"batch_size: expected an integer, got {type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"batch_size: must be at least 1, got {batch_size}")
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.batch_size = int(batch_size)
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.normalize = bool(normalize)
        self.model_id = model_id
        self.progress = progress
        self.autocast = autocast
        self._amp_dtype = resolve_autocast(autocast)
        self._batched = BatchedPreprocess(preprocess, self.device)
        self._memory_cache: dict[str, np.ndarray] = {}
        self._text_cache: dict[str, np.ndarray] = {}
        self._state_hash: str | None = None
        self.embedding_dim: int | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(
        cls,
        name: str,
        pretrained: str | None = None,
        checkpoint_path: str | os.PathLike | None = None,
        *,
        weights_cache_dir: str | os.PathLike | None = None,
        **encoder_kwargs,
    ) -> ClipEncoder:
        """An encoder for the open_clip architecture ``name`` with pretrained weights.

        Parameters
        ----------
        name : open_clip model name, e.g. ``"ViT-B-32"`` (see ``open_clip.list_models()``).
        pretrained : open_clip pretrained tag (e.g. ``"openai"``, see
            ``open_clip.list_pretrained_tags_by_model(name)``) or a weights file.
        checkpoint_path : a local open_clip weights file; use it when offline.
        weights_cache_dir : where open_clip looks for / downloads tagged weights.
        **encoder_kwargs : passed to :class:`ClipEncoder` (device, batch_size, cache_dir, ...).

        Raises
        ------
        FileNotFoundError
            When ``checkpoint_path`` does not exist, or when offline (``HF_HUB_OFFLINE=1``)
            and the tagged weights are not cached; raised before any network access.
        RuntimeError
            When open_clip fails to download or load the weights.
        """
        import open_clip

        if not isinstance(name, str) or not name:
            raise TypeError(f"name: expected an open_clip model name, got {name!r}")
        if checkpoint_path is not None and pretrained is not None:
            raise ValueError("pretrained/checkpoint_path: pass only one of them")
        if checkpoint_path is None and pretrained is None:
            raise ValueError(
                "pretrained: pass a pretrained tag (e.g. pretrained='openai') or a local "
                "weights file (checkpoint_path='/path/to/open_clip_pytorch_model.bin')"
            )
        if checkpoint_path is not None or os.path.isfile(str(pretrained)):
            weights = Path(checkpoint_path if checkpoint_path is not None else pretrained)
            if not weights.is_file():
                raise FileNotFoundError(f"checkpoint_path: no such file {str(weights)!r}")
            stat = weights.stat()
            model_id = f"{name}|{weights.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
            source = str(weights)
        else:
            source = _resolve_pretrained_tag(name, str(pretrained), weights_cache_dir)
            model_id = f"{name}|{pretrained}"
        device = encoder_kwargs.get("device")
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                name,
                pretrained=source,
                device="cpu" if device is None else device,
                cache_dir=None if weights_cache_dir is None else str(weights_cache_dir),
            )
            tokenizer = open_clip.get_tokenizer(name)
        except Exception as error:  # open_clip raises RuntimeError/OSError/... on a failed download
            raise RuntimeError(
                f"could not load open_clip model {name!r} with pretrained={pretrained!r}: "
                f"{error}. Pass a local weights file instead: checkpoint_path='/path/to/file'"
            ) from error
        encoder_kwargs.setdefault("model_id", model_id)
        return cls(model, preprocess, tokenizer, **encoder_kwargs)

    # ------------------------------------------------------------------ images
    def encode_images(self, images, indices=None) -> np.ndarray:
        """CLIP embeddings of images, (N, D) float32, read-only.

        The array returned is the cached one itself (memory-mapped when it comes from
        ``cache_dir``), so a repeated call returns at once; ``.copy()`` it to modify it.

        Parameters
        ----------
        images : uint8 array (N, H, W, 3) (or (N, H, W, 1) grey), or an EvalSet-like object
            with ``images_at(indices)`` / ``image(i)`` / ``n``.
        indices : with an EvalSet, the samples to encode (default: all), in that order.

        Notes
        -----
        The cache key never reads every pixel: it combines

        - the images' fingerprint: for an EvalSet, its image source's ``fingerprint()``
          (file paths, sizes and modification times; a ``datasets`` fingerprint; an array's
          shape plus a sampled hash) and the ``indices``; for an array, its shape, dtype
          and a sampled hash;
        - the model's identity: ``model_id``, else a hash of its weights taken once per
          encoder (with ``cache_dir``) or the model object (memory cache only);
        - the preprocessing (its repr), ``normalize`` and ``autocast``.

        So the cache is invalidated when an image file is replaced or touched (beyond
        20,000 files: a sampled one), when images are added, removed or re-ordered, when an array changes shape or in a sampled
        pixel, or when any setting or ``model_id`` changes. It is *not* invalidated by edits
        to unsampled pixels of an array in place, nor by changing the weights of this
        encoder's model after its first cached call: call :meth:`clear_cache` and make a
        new encoder (or pass a new ``model_id``) then.
        """
        source = ImageBatches(images, indices, self.batch_size)
        if source.n == 0:
            return np.zeros((0, self._embedding_dim()), dtype=np.float32)
        key = self._image_key(source)
        cached = self._load_cached(key)
        if cached is not None:
            return cached
        embeddings = self._encode(source)
        self.embedding_dim = embeddings.shape[1]
        self._store_cached(key, embeddings)
        return embeddings

    def _encode(self, source: ImageBatches) -> np.ndarray:
        """Run the model over every batch; results come to the host once at the end."""
        import torch
        from tqdm.auto import tqdm

        from ..inference import DeviceRows, autocast_context, prefetch

        pin = self.device.type == "cuda"
        rows = DeviceRows(source.n)
        bar = tqdm(
            total=source.n, desc="CLIP images", unit="img", disable=not self.progress, leave=False
        )
        try:
            with torch.inference_mode(), autocast_context(self.device, self._amp_dtype):
                for host in prefetch(source.batches(), lambda b: self._batched.to_host(b, pin)):
                    with torch.autocast(self.device.type, enabled=False):
                        pixels = self._batched.on_device(host)
                    features = self.model.encode_image(pixels)
                    rows.add(self._normalized(features))
                    bar.update(len(pixels))
                return rows.result()
        finally:
            bar.close()

    def preprocess_batch(self, batch) -> torch.Tensor:
        """Apply the model's preprocessing to uint8 images: a (B, 3, S, S) float tensor.

        ``batch`` is a uint8 array (B, H, W, 3) or a list of uint8 (H, W, 3) arrays of
        possibly different sizes. The result is on the encoder's device.
        """
        return self._batched.on_device(self._batched.to_host(batch, pin=False))

    @property
    def _batched_steps(self) -> list | None:
        """The batched tensor steps of the preprocessing, or None (per-PIL-image fallback)."""
        return self._batched.steps

    def clear_cache(self) -> None:
        """Forget the embeddings cached in memory (image and text); files on disk stay."""
        self._memory_cache.clear()
        self._text_cache.clear()

    # ------------------------------------------------------------------ texts
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """CLIP embeddings of texts, (T, D) float32 (cached in memory per text)."""
        texts = check_strings(texts, "texts")
        missing = list(dict.fromkeys(t for t in texts if t not in self._text_cache))
        if missing:
            import torch

            from ..inference import autocast_context

            with torch.inference_mode(), autocast_context(self.device, self._amp_dtype):
                for start in range(0, len(missing), self.batch_size):
                    chunk = missing[start : start + self.batch_size]
                    tokens = self.tokenizer(chunk).to(self.device)
                    features = self._normalized(self.model.encode_text(tokens)).cpu().numpy()
                    for text, row in zip(chunk, features):
                        self._text_cache[text] = row
        if not texts:
            return np.zeros((0, self._embedding_dim()), dtype=np.float32)
        out = np.stack([self._text_cache[t] for t in texts])
        self.embedding_dim = out.shape[1]
        return out

    # ------------------------------------------------------------------ helpers
    def _normalized(self, features):
        """float32 features, L2-normalised when ``normalize`` (on the device)."""
        features = features.float()
        if self.normalize:
            features = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return features

    def _embedding_dim(self) -> int:
        if self.embedding_dim is None:
            dim = getattr(getattr(self.model, "text_projection", None), "shape", None)
            if dim is not None and len(dim) == 2:
                self.embedding_dim = int(dim[1])
            else:
                self.embedding_dim = int(self.encode_texts(["a photo"]).shape[1])
        return self.embedding_dim

    def _model_identity(self) -> str:
        if self.model_id is not None:
            return f"id:{self.model_id}"
        if self.cache_dir is None:  # the memory cache lives no longer than this model object
            return f"object:{id(self.model)}"
        if self._state_hash is None:
            self._state_hash = "weights:" + state_digest(self.model)
        return self._state_hash

    def _image_key(self, source: ImageBatches) -> str:
        parts = (
            _CACHE_VERSION,
            self._model_identity(),
            repr(self.preprocess),
            "normalized" if self.normalize else "raw",
            f"autocast:{self._amp_dtype}",
            source.fingerprint(),
        )
        return hashlib.blake2b("\n".join(parts).encode(), digest_size=20).hexdigest()

    def _cache_path(self, key: str) -> Path:
        return self.cache_dir / f"clip-{key}.npy"

    def _load_cached(self, key: str) -> np.ndarray | None:
        if key in self._memory_cache:
            return self._memory_cache[key]
        if self.cache_dir is not None and self._cache_path(key).is_file():
            # Memory-mapped: pages are read when used, so finding the cache costs no read.
            embeddings = np.load(self._cache_path(key), mmap_mode="r", allow_pickle=False)
            self._memory_cache[key] = embeddings
            self.embedding_dim = embeddings.shape[1]
            return embeddings
        return None

    def _store_cached(self, key: str, embeddings: np.ndarray) -> None:
        embeddings.setflags(write=False)
        self._memory_cache[key] = embeddings
        if self.cache_dir is not None:
            save_array_atomic(self._cache_path(key), embeddings)

    def __repr__(self) -> str:
        return (
            f"ClipEncoder(model_id={self.model_id!r}, device={str(self.device)!r}, "
            f"batch_size={self.batch_size}, cache_dir={self.cache_dir!r}, "
            f"autocast={self.autocast!r})"
        )


def _resolve_pretrained_tag(name: str, tag: str, weights_cache_dir) -> str:
    """Check that an open_clip pretrained tag can be loaded; fail at once when it cannot."""
    import open_clip

    config = open_clip.get_pretrained_cfg(name, tag)
    if not config:
        known = open_clip.list_pretrained_tags_by_model(name)
        raise ValueError(
            f"pretrained: {tag!r} is neither a file nor a known open_clip tag for {name!r}; "
            f"known tags: {known}"
        )
    if not is_offline():
        return tag
    local = cached_weights(config, weights_cache_dir)
    if local is None:
        raise FileNotFoundError(
            f"open_clip weights for {name!r} (pretrained={tag!r}) are not in the local cache "
            "and downloads are disabled (HF_HUB_OFFLINE=1). Download the weights file on a "
            "machine with network access and pass checkpoint_path='/path/to/weights.bin' "
            f"(ClipEncoder.from_pretrained({name!r}, checkpoint_path=...))."
        )
    return local

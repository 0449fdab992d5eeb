"""CLIP image and text embeddings through open_clip, batched and cached.

:class:`ClipEncoder` wraps any open_clip model (a pretrained one, or a small demo model)
with its image preprocessing and tokenizer. Images are preprocessed as batched tensor
operations (resize, centre crop, normalise) when the preprocessing pipeline consists of
torchvision transforms that accept batched tensors, which is much faster than
open_clip's per-PIL-image pipeline; other pipelines fall back to one PIL image at a time.

Embeddings are cached by a content hash of the images together with the model identity,
the preprocessing and the normalisation: on disk when ``cache_dir`` is given, in memory
otherwise.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["ClipEncoder"]

_CACHE_VERSION = b"failwidgets-clip-embeddings-v1"
_OFFLINE_VALUES = {"1", "true", "yes", "on"}


def _offline() -> bool:
    """Whether downloads from the Hugging Face hub are disabled for this process."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in _OFFLINE_VALUES:
            return True
    return False


def _hash_array(hasher, array: np.ndarray) -> None:
    array = np.ascontiguousarray(array)
    hasher.update(f"{array.dtype.str}{array.shape}".encode())
    hasher.update(memoryview(array).cast("B"))


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
    cache_dir : folder for cached image embeddings (``.npy``); in memory when None.
    normalize : L2-normalise the embeddings (CLIP's shared space is one of unit vectors).
    model_id : stable identity of the model's weights for the disk cache (e.g.
        ``"ViT-B-32:openai"``). Default: a hash of the model's state dict when ``cache_dir``
        is given (computed once), the object's identity otherwise.
    progress : show a tqdm progress bar over batches.
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
    ):
        import torch

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
        self._batched_steps = self._tensor_steps(preprocess)
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
        """CLIP embeddings of images, (N, D) float32.

        Parameters
        ----------
        images : uint8 array (N, H, W, 3) (or (N, H, W, 1) grey), or an EvalSet-like object
            with ``images_at(indices)`` / ``image(i)`` / ``n``.
        indices : with an EvalSet, the samples to encode (default: all), in that order.
        """
        source = _ImageBatches(images, indices, self.batch_size)
        if source.n == 0:
            return np.zeros((0, self._embedding_dim()), dtype=np.float32)
        key = self._image_key(source)
        cached = self._load_cached(key)
        if cached is not None:
            return cached
        import torch
        from tqdm.auto import tqdm

        chunks = []
        with torch.inference_mode():
            for batch in tqdm(
                source.batches(),
                total=source.n_batches,
                desc="CLIP images",
                disable=not self.progress,
                leave=False,
            ):
                pixels = self.preprocess_batch(batch).to(self.device)
                chunks.append(self._finish(self.model.encode_image(pixels)))
        embeddings = np.concatenate(chunks)
        self.embedding_dim = embeddings.shape[1]
        self._store_cached(key, embeddings)
        return embeddings

    def preprocess_batch(self, batch) -> torch.Tensor:
        """Apply the model's preprocessing to uint8 images, as (B, 3, S, S) float tensor.

        ``batch`` is a uint8 array (B, H, W, 3) or a list of uint8 (H, W, 3) arrays of
        possibly different sizes.
        """
        import torch

        if isinstance(batch, np.ndarray):
            if self._batched_steps is not None:
                return self._apply_tensor_steps(torch.from_numpy(np.ascontiguousarray(batch)))
            batch = list(batch)
        if self._batched_steps is not None:
            return torch.cat(
                [
                    self._apply_tensor_steps(torch.from_numpy(np.ascontiguousarray(im[None])))
                    for im in batch
                ]
            )
        from PIL import Image

        return torch.stack([self.preprocess(Image.fromarray(im)) for im in batch])

    @staticmethod
    def _tensor_steps(preprocess) -> list | None:
        """The preprocessing as batched tensor steps, or None when it must run per PIL image."""
        from torchvision.transforms import CenterCrop, Compose, Normalize, Resize, ToTensor

        try:
            from torchvision.transforms import v2
        except ImportError:  # pragma: no cover - old torchvision
            v2 = None
        transforms = preprocess.transforms if isinstance(preprocess, Compose) else [preprocess]
        geometric = (Resize, CenterCrop) + ((v2.Resize, v2.CenterCrop) if v2 else ())
        normalize = (Normalize,) + ((v2.Normalize,) if v2 else ())
        steps = []
        for transform in transforms:
            name = getattr(transform, "__name__", type(transform).__name__)
            if isinstance(transform, geometric):
                steps.append(("uint8", transform))
            elif isinstance(transform, ToTensor):
                steps.append(("to_float", None))
            elif isinstance(transform, normalize):
                steps.append(("float", transform))
            elif name in ("MaybeConvertMode", "_convert_to_rgb"):
                continue  # the images are RGB already
            else:
                return None
        kinds = [kind for kind, _ in steps]
        if kinds.count("to_float") != 1 or any(
            kind == "uint8" for kind in kinds[kinds.index("to_float") :]
        ):
            return None
        return steps

    def _apply_tensor_steps(self, images_uint8):
        # (B, H, W, 3) uint8 -> (B, 3, H, W); resizing uint8 tensors with antialias rounds
        # and clamps like PIL does before ToTensor.
        x = images_uint8.to(self.device).permute(0, 3, 1, 2).contiguous()
        for kind, transform in self._batched_steps:
            if kind == "to_float":
                x = x.float().div_(255.0)
            else:
                x = transform(x)
        return x

    # ------------------------------------------------------------------ texts
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """CLIP embeddings of texts, (T, D) float32 (cached in memory per text)."""
        if isinstance(texts, str):
            raise TypeError("texts: expected a list of strings, got a single string")
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts: item {i} is {type(text).__name__}, expected str")
        missing = list(dict.fromkeys(t for t in texts if t not in self._text_cache))
        if missing:
            import torch

            with torch.inference_mode():
                for start in range(0, len(missing), self.batch_size):
                    chunk = missing[start : start + self.batch_size]
                    tokens = self.tokenizer(chunk).to(self.device)
                    for text, row in zip(chunk, self._finish(self.model.encode_text(tokens))):
                        self._text_cache[text] = row
        if not texts:
            return np.zeros((0, self._embedding_dim()), dtype=np.float32)
        out = np.stack([self._text_cache[t] for t in texts])
        self.embedding_dim = out.shape[1]
        return out

    # ------------------------------------------------------------------ helpers
    def _finish(self, features) -> np.ndarray:
        features = features.float()
        if self.normalize:
            features = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return features.cpu().numpy().astype(np.float32, copy=False)

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
            return self.model_id
        if self.cache_dir is None:
            return f"object-{id(self.model)}"
        if self._state_hash is None:
            hasher = hashlib.blake2b(digest_size=16)
            for name, tensor in sorted(self.model.state_dict().items()):
                hasher.update(name.encode())
                _hash_array(hasher, tensor.detach().float().cpu().numpy())
            self._state_hash = "weights-" + hasher.hexdigest()
        return self._state_hash

    def _image_key(self, source: _ImageBatches) -> str:
        hasher = hashlib.blake2b(digest_size=20)
        hasher.update(_CACHE_VERSION)
        hasher.update(self._model_identity().encode())
        hasher.update(repr(self.preprocess).encode())
        hasher.update(b"normalized" if self.normalize else b"raw")
        for batch in source.batches():
            for image in [batch] if isinstance(batch, np.ndarray) else batch:
                _hash_array(hasher, image)
        return hasher.hexdigest()

    def _cache_path(self, key: str) -> Path:
        return self.cache_dir / f"clip-{key}.npy"

    def _load_cached(self, key: str) -> np.ndarray | None:
        if key in self._memory_cache:
            return self._memory_cache[key].copy()
        if self.cache_dir is not None and self._cache_path(key).is_file():
            embeddings = np.load(self._cache_path(key))
            self._memory_cache[key] = embeddings
            self.embedding_dim = embeddings.shape[1]
            return embeddings.copy()
        return None

    def _store_cached(self, key: str, embeddings: np.ndarray) -> None:
        self._memory_cache[key] = embeddings.copy()
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            path = self._cache_path(key)
            partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.npy")
            np.save(partial, embeddings)
            os.replace(partial, path)

    def __repr__(self) -> str:
        return (
            f"ClipEncoder(model_id={self.model_id!r}, device={str(self.device)!r}, "
            f"batch_size={self.batch_size}, cache_dir={self.cache_dir!r})"
        )


class _ImageBatches:
    """Batches of uint8 RGB images from an array or an EvalSet-like object."""

    def __init__(self, images, indices, batch_size: int):
        self.batch_size = batch_size
        if isinstance(images, np.ndarray):
            if indices is not None:
                raise ValueError("indices: only used with an EvalSet; index the array instead")
            self.array = _check_image_array(images)
            self.evalset = None
            self.indices = None
            self.n = len(self.array)
        elif hasattr(images, "images_at") and hasattr(images, "n"):
            self.array = None
            self.evalset = images
            if indices is None:
                self.indices = np.arange(images.n)
            elif hasattr(images, "check_indices"):
                self.indices = images.check_indices(indices)
            else:
                self.indices = np.asarray(indices, dtype=np.int64)
            self.n = len(self.indices)
        else:
            raise TypeError(
                "images: expected a uint8 array (N, H, W, 3) or an EvalSet, "
                f"got {type(images).__name__}"
            )

    @property
    def n_batches(self) -> int:
        return -(-self.n // self.batch_size)

    def batches(self):
        for start in range(0, self.n, self.batch_size):
            stop = min(start + self.batch_size, self.n)
            if self.array is not None:
                yield self.array[start:stop]
                continue
            idx = self.indices[start:stop]
            try:
                batch = self.evalset.images_at(idx)
            except ValueError:  # images of different sizes: one at a time
                yield [_check_image_array(self.evalset.image(int(i))[None])[0] for i in idx]
            else:
                yield _check_image_array(batch)


def _check_image_array(images: np.ndarray) -> np.ndarray:
    if images.dtype != np.uint8:
        raise TypeError(f"images: expected dtype uint8 (0..255), got {images.dtype}")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"images: expected shape (N, H, W, 3), got {images.shape}"
            + ("; for one image use images[None]" if images.ndim == 3 else "")
        )
    return images


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
    if not _offline():
        return tag
    local = _cached_weights(config, weights_cache_dir)
    if local is None:
        raise FileNotFoundError(
            f"open_clip weights for {name!r} (pretrained={tag!r}) are not in the local cache "
            "and downloads are disabled (HF_HUB_OFFLINE=1). Download the weights file on a "
            "machine with network access and pass checkpoint_path='/path/to/weights.bin' "
            f"(ClipEncoder.from_pretrained({name!r}, checkpoint_path=...))."
        )
    return local


def _cached_weights(config: dict, weights_cache_dir) -> str | None:
    """Path of already-downloaded weights for an open_clip pretrained config, or None."""
    if config.get("file") and os.path.isfile(config["file"]):
        return config["file"]
    hub = config.get("hf_hub", "")
    if hub:
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:  # pragma: no cover - huggingface_hub ships with open_clip
            try_to_load_from_cache = None
        if try_to_load_from_cache is not None:
            repo_id, filename = os.path.split(hub)
            filename = filename or "open_clip_pytorch_model.bin"
            candidates = [filename]
            if filename == "open_clip_pytorch_model.bin":
                candidates.insert(0, "open_clip_model.safetensors")
            elif filename.endswith((".bin", ".pth")):
                candidates.insert(0, filename[:-4] + ".safetensors")
            for candidate in candidates:
                found = try_to_load_from_cache(
                    repo_id,
                    candidate,
                    cache_dir=None if weights_cache_dir is None else str(weights_cache_dir),
                )
                if isinstance(found, str) and os.path.isfile(found):
                    return found
    url = config.get("url", "")
    if url:
        root = Path(weights_cache_dir) if weights_cache_dir else Path.home() / ".cache" / "clip"
        local = root / os.path.basename(url)
        if local.is_file():
            return str(local)
    return None

"""Real open_clip models by name, with a pretrained tag or a local checkpoint, offline-safe.

``load_open_clip("ViT-B-32", pretrained="laion2b_s34b_b79k")`` behaves like open_clip's own
``create_model_and_transforms`` + ``get_tokenizer``, with two differences:

* offline (``HF_HUB_OFFLINE=1``) a pretrained file that is not in the local cache fails at
  once, before any model is built, with a message saying to pass ``checkpoint_path=``;
* a tag's settings (QuickGELU, mean/std, interpolation) are also applied when the weights come
  from a local ``checkpoint_path``, so ``pretrained="openai", checkpoint_path=".../ViT-B-32.pt"``
  rebuilds exactly the tagged model.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

__all__ = ["cached_weights", "is_offline", "load_open_clip", "resolve_cached_pretrained"]

_TRUE = {"1", "on", "yes", "true"}


def is_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set to a true value."""
    return any(
        os.environ.get(var, "").strip().lower() in _TRUE
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def _hf_cached(repo_id: str, filenames, cache_dir) -> str | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub ships with open_clip
        return None
    for filename in filenames:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir)
        if isinstance(found, str) and os.path.isfile(found):
            return found
    return None


def resolve_cached_pretrained(name: str, pretrained: str, cache_dir=None) -> str | None:
    """Local path of open_clip's weights for ``(name, pretrained)`` if already cached, else None.

    Looks where open_clip's downloader would put them: the Hugging Face cache for ``hf_hub``
    entries (open_clip prefers those), ``~/.cache/clip`` (or ``cache_dir``) for URL entries.
    No network access.
    """
    import open_clip

    cfg = open_clip.get_pretrained_cfg(name, pretrained)
    return cached_weights(cfg, cache_dir) if cfg else None


def cached_weights(cfg: dict, cache_dir=None) -> str | None:
    """Local path of already-downloaded weights for an open_clip pretrained config
    (``open_clip.get_pretrained_cfg(name, tag)``), else None; see
    :func:`resolve_cached_pretrained`."""
    if cfg.get("file") and os.path.isfile(cfg["file"]):
        return cfg["file"]
    hub = cfg.get("hf_hub", "")
    if hub:
        repo_id, filename = os.path.split(hub)
        filename = filename or "open_clip_pytorch_model.bin"
        candidates = [filename]
        if filename == "open_clip_pytorch_model.bin":
            candidates.insert(0, "open_clip_model.safetensors")
        elif filename.endswith((".bin", ".pth")):
            candidates.insert(0, filename[:-4] + ".safetensors")
        found = _hf_cached(repo_id, candidates, None if cache_dir is None else str(cache_dir))
        if found:
            return found
    url = cfg.get("url", "")
    if url:
        folder = Path(cache_dir) if cache_dir else Path("~/.cache/clip").expanduser()
        target = folder / os.path.basename(url)
        if target.is_file():
            return str(target)
    return None


def _check_name(name: str, open_clip) -> None:
    if not isinstance(name, str) or not name:
        raise TypeError(f"name: expected an open_clip model name such as 'ViT-B-32', got {name!r}")
    if name.startswith(("hf-hub:", "local-dir:")):
        return
    models = open_clip.list_models()
    if name.replace("/", "-") not in models:
        close = difflib.get_close_matches(name, models, n=5)
        hint = f" Did you mean {close}?" if close else ""
        raise ValueError(
            f"name: {name!r} is not an open_clip model.{hint} See open_clip.list_models()."
        )


def _offline_message(name: str, pretrained: str) -> str:
    return (
        f"open_clip weights for model {name!r} with pretrained={pretrained!r} are not in the "
        "local cache, and downloads are disabled (HF_HUB_OFFLINE=1 / no network). Download "
        "the checkpoint on a machine with network access (e.g. "
        f"open_clip.create_model_and_transforms({name!r}, pretrained={pretrained!r}) fills the "
        "cache), then pass its local file: "
        f"load_open_clip({name!r}, pretrained={pretrained!r}, checkpoint_path='/path/to/weights'); "
        "or use the embedded demo model, failwidgets.demo.load_clip()."
    )


def load_open_clip(
    name: str,
    pretrained: str | None = None,
    checkpoint_path=None,
    *,
    device: str = "cpu",
    cache_dir=None,
):
    """An open_clip model as ``(model, preprocess, tokenizer)``.

    Parameters
    ----------
    name : open_clip architecture, e.g. ``"ViT-B-32"`` (see ``open_clip.list_models()``), or an
        ``"hf-hub:org/repo"`` name.
    pretrained : a pretrained tag of that architecture (``open_clip.list_pretrained()``), e.g.
        ``"openai"`` or ``"laion2b_s34b_b79k"``. Downloaded when online; offline it must be in
        the cache, else this fails at once telling you to pass ``checkpoint_path``.
    checkpoint_path : local weights file (open_clip / OpenAI format). With ``pretrained`` too,
        the tag's settings (QuickGELU, normalisation) are used with these weights.
    device : where to put the model.
    cache_dir : open_clip's download/cache folder.

    Returns
    -------
    ``(model, preprocess, tokenizer)``: the model in eval mode, open_clip's eval transform for
    PIL images, open_clip's tokenizer for the model.
    """
    import open_clip

    _check_name(name, open_clip)
    hub_schema = name.startswith("hf-hub:")
    if pretrained is not None and not hub_schema:
        if not isinstance(pretrained, str):
            raise TypeError(f"pretrained: expected a tag string, got {type(pretrained).__name__}")
        tags = open_clip.list_pretrained_tags_by_model(name.replace("/", "-"))
        if pretrained not in tags and pretrained.lower() not in tags:
            hint = (
                " (to load a file, pass it as checkpoint_path=)"
                if os.path.exists(pretrained)
                else ""
            )
            raise ValueError(
                f"pretrained: {pretrained!r} is not a pretrained tag of {name!r}{hint}; "
                f"known tags: {tags or 'none'}"
            )
    if checkpoint_path is not None:
        checkpoint_path = Path(checkpoint_path).expanduser()
        if not checkpoint_path.is_file():
            raise FileNotFoundError(
                f"checkpoint_path: no file at {str(checkpoint_path)!r} (expected an open_clip or "
                f"OpenAI checkpoint for {name!r})"
            )

    kwargs: dict = {"device": device, "cache_dir": cache_dir}
    if hub_schema:
        if checkpoint_path is not None:
            raise ValueError(
                "checkpoint_path: not used with an 'hf-hub:' name; pass the architecture name "
                "(e.g. 'ViT-B-32') with checkpoint_path instead"
            )
        if is_offline() and not _hf_cached(
            name[len("hf-hub:") :], ["open_clip_config.json"], cache_dir
        ):
            raise FileNotFoundError(_offline_message(name, pretrained or "(hub)"))
        source = None
    elif pretrained is not None:
        cfg = open_clip.get_pretrained_cfg(name.replace("/", "-"), pretrained)
        kwargs.update(
            force_quick_gelu=bool(cfg.get("quick_gelu", False)),
            image_mean=cfg.get("mean"),
            image_std=cfg.get("std"),
            image_interpolation=cfg.get("interpolation"),
            image_resize_mode=cfg.get("resize_mode"),
        )
        if checkpoint_path is not None:
            source = str(checkpoint_path)
        else:
            cached = resolve_cached_pretrained(name.replace("/", "-"), pretrained, cache_dir)
            if cached is None and is_offline():
                raise FileNotFoundError(_offline_message(name, pretrained))
            source = cached or pretrained  # a tag downloads through open_clip
    else:
        source = str(checkpoint_path) if checkpoint_path is not None else None

    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=source, **kwargs)
    model.eval()
    try:
        tokenizer = open_clip.get_tokenizer(name, cache_dir=cache_dir)
    except Exception as error:  # e.g. a Hugging Face tokenizer that is not cached offline
        raise RuntimeError(
            f"could not build the tokenizer of {name!r}: {error}. Models with Hugging Face "
            "tokenizers need them in the local cache when offline."
        ) from error
    return model, preprocess, tokenizer

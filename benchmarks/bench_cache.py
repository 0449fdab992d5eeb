"""How fast a repeated ``ClipEncoder.encode_images`` call finds its cache (target < 1 s at 1e6).

    .venv/bin/python benchmarks/bench_cache.py [--n 1000000] [--size 16] [--dim 512]

The images are a uint8 memmap (N, S, S, 3) on disk, wrapped in an EvalSet; the encoder is a
fake tiny CLIP (mean colour of 4 x 4 cells -> a linear map to ``dim``) with a batched
to-tensor + normalise preprocessing, so the first call (the cache miss) is cheap enough to
run at a million images on a CPU. Timed:

- ``key_s``: the cache key alone (the images' fingerprint, the indices, the settings);
- ``cache_hit_s``: a repeated call on the same encoder (memory cache; includes the copy of
  the (N, dim) result);
- ``disk_cache_hit_s``: the same call on a fresh encoder with the same ``cache_dir`` and
  ``model_id`` (reads the ``.npy`` file);
- ``cache_miss_s``: the first call, for scale.

Prints the figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def fake_clip(dim: int, seed: int = 0):
    """A tiny stand-in for an open_clip model (encode_image / encode_text)."""
    import torch

    class FakeClip(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(seed)
            self.pool = torch.nn.AdaptiveAvgPool2d(4)
            self.image = torch.nn.Linear(3 * 4 * 4, dim)
            self.text = torch.nn.EmbeddingBag(1000, dim)

        def encode_image(self, x):
            return self.image(self.pool(x).flatten(1))

        def encode_text(self, tokens):
            return self.text(tokens % 1000)

    return FakeClip()


def make_images(path: Path, n: int, size: int) -> np.memmap:
    """A uint8 (n, size, size, 3) memmap filled with random pixels, chunk by chunk."""
    images = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, size, size, 3))
    rng = np.random.default_rng(0)
    chunk = 65536
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        images[start:stop] = rng.integers(0, 256, (stop - start, size, size, 3), dtype=np.uint8)
    images.flush()
    return np.load(path, mmap_mode="r")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="images")
    parser.add_argument("--size", type=int, default=16, help="image side in pixels")
    parser.add_argument("--dim", type=int, default=512, help="embedding dimension")
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tmp", default=None, help="folder for the memmap and the cache")
    args = parser.parse_args(argv)

    import torch
    from torchvision import transforms

    from failwidgets.data import EvalSet
    from failwidgets.features.clip import ClipEncoder
    from failwidgets.features.clip_inputs import ImageBatches

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        start = time.perf_counter()
        images = make_images(Path(tmp) / "images.npy", args.n, args.size)
        labels = np.arange(args.n) % 10
        evalset = EvalSet.from_arrays(images, labels, labels, [f"c{i}" for i in range(10)])
        setup_s = time.perf_counter() - start
        preprocess = transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))]
        )
        model = fake_clip(args.dim)

        def encoder():
            return ClipEncoder(
                model,
                preprocess,
                lambda texts: torch.zeros((len(texts), 8), dtype=torch.long),
                device=args.device,
                batch_size=args.batch_size,
                cache_dir=Path(tmp) / "cache",
                model_id="fake-clip",
                progress=False,
            )

        first = encoder()
        start = time.perf_counter()
        embeddings = first.encode_images(evalset)
        miss_s = time.perf_counter() - start

        start = time.perf_counter()
        first._image_key(ImageBatches(evalset, None, args.batch_size))
        key_s = time.perf_counter() - start

        start = time.perf_counter()
        again = first.encode_images(evalset)
        hit_s = time.perf_counter() - start

        fresh = encoder()
        start = time.perf_counter()
        from_disk = fresh.encode_images(evalset)
        disk_s = time.perf_counter() - start
        if not (np.array_equal(again, embeddings) and np.array_equal(from_disk, embeddings)):
            raise AssertionError("the cached embeddings differ from the computed ones")

    print(f"{args.n:,} images of {args.size} px (memmap), embeddings {embeddings.shape}")
    print(f"set-up (memmap + EvalSet): {setup_s:.2f} s; first call (cache miss): {miss_s:.2f} s")
    print(f"cache key: {key_s * 1e3:.1f} ms")
    print(f"repeated call (memory cache hit): {hit_s:.3f} s  (target < 1 s)")
    print(f"fresh encoder (disk cache hit): {disk_s:.3f} s")
    line = {
        "n": args.n,
        "size": args.size,
        "dim": args.dim,
        "cache_hit_s": round(hit_s, 4),
        "disk_cache_hit_s": round(disk_s, 4),
        "key_s": round(key_s, 4),
        "cache_miss_s": round(miss_s, 3),
        "target_s": 1.0,
    }
    print(json.dumps(line))
    return line


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    main()

"""ImageSource.fingerprint: cheap, stable cache keys that change when the images do."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from failwidgets import images as images_module
from failwidgets.data import EvalSet
from failwidgets.images import (
    ArrayImages,
    DatasetImages,
    HuggingFaceImages,
    ListImages,
    PathImages,
    SubsetImages,
)


def _array(n=100, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 6, 5, 3), dtype=np.uint8)


def test_array_fingerprint_follows_content_not_identity():
    a = _array()
    key = ArrayImages(a).fingerprint()
    assert isinstance(key, str) and len(key) == 32
    assert ArrayImages(a.copy()).fingerprint() == key
    assert ArrayImages(np.asfortranarray(a)).fingerprint() == key  # layout is not content
    b = a.copy()
    b[0, 0, 0, 0] ^= 1  # the first image is always sampled
    assert ArrayImages(b).fingerprint() != key
    b = a.copy()
    b[-1, -1, -1, -1] ^= 1  # and the last
    assert ArrayImages(b).fingerprint() != key
    assert ArrayImages(a[:-1]).fingerprint() != key
    assert ArrayImages(a.reshape(100, 5, 6, 3)).fingerprint() != key


def test_array_fingerprint_samples_documented_limit():
    a = _array(n=1000)
    key = ArrayImages(a).fingerprint()
    sampled = set(images_module._sample_positions(1000, images_module.SAMPLED_IMAGES).tolist())
    assert len(sampled) == images_module.SAMPLED_IMAGES and {0, 999} <= sampled
    unsampled = next(i for i in range(1000) if i not in sampled)
    b = a.copy()
    b[unsampled] ^= 255  # documented: an in-place edit of an unsampled image is not seen
    assert ArrayImages(b).fingerprint() == key
    b[min(sampled - {0})] ^= 1
    assert ArrayImages(b).fingerprint() != key


def test_memmap_fingerprint_equals_in_memory(tmp_path):
    a = _array(n=300)
    np.save(tmp_path / "images.npy", a)
    mapped = np.load(tmp_path / "images.npy", mmap_mode="r")
    assert ArrayImages(mapped).fingerprint() == ArrayImages(a).fingerprint()


def _write_pngs(folder, n=5):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"{i}.png"
        Image.fromarray(np.full((4, 4, 3), i * 10, np.uint8)).save(path)
        paths.append(path)
    return paths


def test_path_fingerprint_stats_without_reading(tmp_path, monkeypatch):
    paths = _write_pngs(tmp_path / "imgs")
    source = PathImages(paths)

    def no_reads(*args, **kwargs):
        raise AssertionError("the fingerprint must not open image files")

    with monkeypatch.context() as patch:
        patch.setattr(Image, "open", no_reads)
        patch.setattr("builtins.open", no_reads)
        key = source.fingerprint()
    assert PathImages(paths).fingerprint() == key
    # relative paths with a root resolve to the same files
    assert PathImages([f"{i}.png" for i in range(5)], root=tmp_path / "imgs").fingerprint() == key
    assert PathImages(paths[::-1]).fingerprint() != key  # order matters
    assert PathImages(paths[:-1]).fingerprint() != key
    stat = os.stat(paths[2])
    os.utime(paths[2], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    touched = source.fingerprint()
    assert touched != key  # modification time
    with open(paths[3], "ab") as handle:
        handle.write(b"\0")
    os.utime(paths[3], ns=(stat.st_atime_ns, os.stat(paths[3]).st_mtime_ns))
    assert source.fingerprint() != touched  # size


def test_path_fingerprint_beyond_statted_files_uses_a_sample(tmp_path, monkeypatch):
    paths = _write_pngs(tmp_path / "imgs", n=9)
    monkeypatch.setattr(images_module, "STATTED_FILES", 3)  # statted: positions 0, 4, 8
    source = PathImages(paths)
    key = source.fingerprint()
    later = os.stat(paths[1]).st_mtime_ns + 5_000_000
    os.utime(paths[1], ns=(later, later))
    assert source.fingerprint() == key  # documented: an unstatted file's edit is not seen
    os.utime(paths[4], ns=(later, later))
    assert source.fingerprint() != key
    assert PathImages([*paths[:-1], paths[0]]).fingerprint() != key  # every path is hashed


def test_subset_dataset_and_list_fingerprints():
    a = _array(n=20)
    parent = ArrayImages(a)
    subset = SubsetImages(parent, np.array([3, 1, 4]))
    assert subset.fingerprint() == SubsetImages(ArrayImages(a.copy()), [3, 1, 4]).fingerprint()
    assert subset.fingerprint() != SubsetImages(parent, [3, 1, 5]).fingerprint()
    assert (
        subset.fingerprint() != SubsetImages(ArrayImages(a[::-1].copy()), [3, 1, 4]).fingerprint()
    )

    class Items:
        transform = None

        def __init__(self, array):
            self.array = array

        def __len__(self):
            return len(self.array)

        def __getitem__(self, i):
            return self.array[i], 0

    key = DatasetImages(Items(a)).fingerprint()
    assert DatasetImages(Items(a.copy())).fingerprint() == key
    changed = a.copy()
    changed[0] ^= 1
    assert DatasetImages(Items(changed)).fingerprint() != key
    shifted = Items(a)
    shifted.transform = "Resize(8)"
    assert DatasetImages(shifted).fingerprint() != key

    listed = ListImages(list(a))
    assert listed.fingerprint() == ListImages([x.copy() for x in a]).fingerprint()
    pil = ListImages([Image.fromarray(x) for x in a])
    assert pil.fingerprint() != listed.fingerprint()  # kinds are part of the key
    png = io.BytesIO()
    Image.fromarray(a[0]).save(png, "PNG")
    encoded = ListImages([png.getvalue()])
    assert encoded.fingerprint() == ListImages([png.getvalue()]).fingerprint()
    assert encoded.fingerprint() != ListImages([png.getvalue() + b"\0"]).fingerprint()


def test_huggingface_fingerprint_uses_dataset_fingerprint():
    from datasets import Dataset, Features, Value
    from datasets import Image as HFImage

    rows = {"image": [Image.fromarray(x) for x in _array(n=6)], "other": list(range(6))}
    features = Features({"image": HFImage(), "other": Value("int64")})
    dataset = Dataset.from_dict(rows, features=features)
    key = HuggingFaceImages(dataset, "image").fingerprint()
    assert HuggingFaceImages(dataset, "image").fingerprint() == key
    assert HuggingFaceImages(dataset.shuffle(seed=0), "image").fingerprint() != key
    assert HuggingFaceImages(dataset.select([0, 1]), "image").fingerprint() != key
    assert HuggingFaceImages(dataset, "other").fingerprint() != key


def test_evalset_subset_fingerprint_and_stability_across_processes(tmp_path):
    paths = _write_pngs(tmp_path / "imgs", n=4)
    array = _array(n=50)
    np.save(tmp_path / "a.npy", array)
    es = EvalSet.from_arrays(array, np.zeros(50, int), np.zeros(50, int), ["x"])
    here = {
        "array": es.images.fingerprint(),
        "subset": es.subset([5, 2]).images.fingerprint(),
        "paths": PathImages(paths).fingerprint(),
    }
    script = textwrap.dedent(
        f"""
        import json, numpy as np
        from failwidgets.images import ArrayImages, PathImages, SubsetImages
        a = np.load({str(tmp_path / "a.npy")!r})
        print(json.dumps({{
            "array": ArrayImages(a).fingerprint(),
            "subset": SubsetImages(ArrayImages(a), np.array([5, 2])).fingerprint(),
            "paths": PathImages({[str(p) for p in paths]!r}).fingerprint(),
        }}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == here


@pytest.mark.parametrize("n", [0, 1, 2])
def test_fingerprint_of_tiny_sources(n):
    a = _array(n=max(n, 1))[:n]
    assert len(ArrayImages(a).fingerprint()) == 32
    assert len(SubsetImages(ArrayImages(_array()), np.arange(n)).fingerprint()) == 32

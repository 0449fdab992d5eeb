"""ClipEncoder on a tiny open_clip model built from a config (no download)."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")

from open_clip.transform import PreprocessCfg, image_transform_v2  # noqa: E402
from PIL import Image  # noqa: E402

from failwidgets.features.clip import ClipEncoder  # noqa: E402

TINY_CONFIG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def tiny_model(seed: int = 0):
    torch.manual_seed(seed)
    return open_clip.model.CLIP(**TINY_CONFIG)


PREPROCESS = image_transform_v2(PreprocessCfg(size=32), is_train=False)
TOKENIZER = open_clip.get_tokenizer("ViT-B-32")  # SimpleTokenizer: its vocab ships with open_clip


def tiny_encoder(seed: int = 0, **kwargs) -> ClipEncoder:
    kwargs.setdefault("progress", False)
    return ClipEncoder(tiny_model(seed), PREPROCESS, TOKENIZER, device="cpu", **kwargs)


def smooth_images(n: int, h: int = 24, w: int = 28, seed: int = 0) -> np.ndarray:
    """Natural-looking (smooth) uint8 images, where resizing kernels agree closely."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.empty((n, h, w, 3), dtype=np.uint8)
    for i in range(n):
        fx, fy, phase = rng.uniform(0.1, 0.4, 3)
        for ch in range(3):
            out[i, ..., ch] = 127 + 100 * np.sin(fx * xx + phase * ch) * np.cos(fy * yy + ch)
    return out


@pytest.fixture(scope="module")
def encoder():
    return tiny_encoder(batch_size=4)


def test_image_embeddings_have_shape_dtype_and_unit_norm(encoder):
    emb = encoder.encode_images(smooth_images(10))
    assert emb.shape == (10, 16) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert encoder.encode_images(np.zeros((0, 8, 8, 3), np.uint8)).shape == (0, 16)


def test_text_embeddings_have_shape_and_unit_norm(encoder):
    emb = encoder.encode_texts(["a photo of a cat", "a photo of a dog", "a photo of a cat"])
    assert emb.shape == (3, 16) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(emb[0], emb[2])
    assert not np.allclose(emb[0], emb[1])


def test_unnormalized_embeddings_match_the_model():
    enc = tiny_encoder(normalize=False)
    images = smooth_images(3)
    emb = enc.encode_images(images)
    with torch.inference_mode():
        expected = enc.model.encode_image(enc.preprocess_batch(images)).numpy()
    np.testing.assert_allclose(emb, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.linalg.norm(emb, axis=1), 1.0)


def test_batching_does_not_change_embeddings():
    images = smooth_images(11)
    texts = [f"a photo of a {w}" for w in ("cat", "dog", "car", "ship", "frog")]
    small, large = tiny_encoder(batch_size=3), tiny_encoder(batch_size=256)
    np.testing.assert_allclose(small.encode_images(images), large.encode_images(images), atol=1e-5)
    np.testing.assert_allclose(small.encode_texts(texts), large.encode_texts(texts), atol=1e-5)


def test_batched_tensor_preprocessing_matches_open_clips_pil_pipeline(encoder):
    assert encoder._batched_steps is not None  # the fast path is used for open_clip's transform
    images = smooth_images(6, h=20, w=30)  # upsampled and centre-cropped
    fast = encoder.preprocess_batch(images)
    slow = torch.stack([encoder.preprocess(Image.fromarray(im)) for im in images])
    assert fast.shape == slow.shape == (6, 3, 32, 32)
    grey_levels = (fast - slow).abs() * 0.27 * 255  # normalised units -> ~grey levels
    assert float(grey_levels.mean()) < 0.5 and float(grey_levels.max()) < 4


def test_unknown_transform_falls_back_to_pil():
    from torchvision import transforms

    preprocess = transforms.Compose([transforms.Lambda(lambda im: im), transforms.ToTensor()])
    enc = ClipEncoder(tiny_model(), preprocess, TOKENIZER, device="cpu")
    assert enc._batched_steps is None
    batch = enc.preprocess_batch(np.full((2, 32, 32, 3), 255, np.uint8))
    assert batch.shape == (2, 3, 32, 32) and float(batch.min()) == 1.0


def test_evalset_input_with_indices(encoder):
    from failwidgets.data import EvalSet

    images = smooth_images(8)
    evalset = EvalSet.from_arrays(images, np.arange(8) % 2, np.arange(8) % 2, ["a", "b"])
    np.testing.assert_allclose(
        encoder.encode_images(evalset), encoder.encode_images(images), atol=1e-6
    )
    np.testing.assert_allclose(
        encoder.encode_images(evalset, indices=[5, 1]),
        encoder.encode_images(images[[5, 1]]),
        atol=1e-6,
    )


def test_memory_cache_skips_the_model(monkeypatch):
    enc = tiny_encoder()
    images = smooth_images(5)
    first = enc.encode_images(images)

    def boom(*args, **kwargs):
        raise AssertionError("the model was called for cached images")

    monkeypatch.setattr(enc.model, "encode_image", boom)
    np.testing.assert_array_equal(enc.encode_images(images.copy()), first)
    with pytest.raises(AssertionError, match="cached"):
        enc.encode_images(smooth_images(5, seed=1))  # other content: a cache miss


def test_disk_cache_is_keyed_by_content_and_model(tmp_path, monkeypatch):
    images = smooth_images(5)
    first = tiny_encoder(cache_dir=tmp_path, model_id="tiny-v1").encode_images(images)
    assert len(list(tmp_path.glob("clip-*.npy"))) == 1

    fresh = tiny_encoder(cache_dir=tmp_path, model_id="tiny-v1")
    monkeypatch.setattr(fresh.model, "encode_image", lambda *a: pytest.fail("not from disk"))
    np.testing.assert_array_equal(fresh.encode_images(images), first)

    other_model = tiny_encoder(cache_dir=tmp_path, model_id="tiny-v2")
    other_model.encode_images(images)
    assert len(list(tmp_path.glob("clip-*.npy"))) == 2

    # Without model_id the weights are hashed: different weights, different entries.
    a = tiny_encoder(0, cache_dir=tmp_path / "w")
    b = tiny_encoder(1, cache_dir=tmp_path / "w")
    assert not np.allclose(a.encode_images(images), b.encode_images(images))
    assert len(list((tmp_path / "w").glob("clip-*.npy"))) == 2


def test_bad_images_are_rejected(encoder):
    with pytest.raises(TypeError, match="uint8"):
        encoder.encode_images(np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match=r"images\[None\]"):
        encoder.encode_images(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(TypeError, match="images"):
        encoder.encode_images([np.zeros((8, 8, 3), np.uint8)])
    with pytest.raises(TypeError, match="single string"):
        encoder.encode_texts("a photo")
    grey = encoder.encode_images(np.full((1, 8, 8, 1), 90, np.uint8))
    rgb = encoder.encode_images(np.full((1, 8, 8, 3), 90, np.uint8))
    np.testing.assert_allclose(grey, rgb, atol=1e-6)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        ClipEncoder(tiny_model(), PREPROCESS, TOKENIZER, batch_size=0)
    with pytest.raises(TypeError, match="model"):
        ClipEncoder(object(), PREPROCESS, TOKENIZER)


def test_offline_missing_pretrained_weights_fail_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(FileNotFoundError, match="checkpoint_path="):
        ClipEncoder.from_pretrained("ViT-B-32", pretrained="openai", weights_cache_dir=tmp_path)
    assert time.perf_counter() - start < 5
    with pytest.raises(ValueError, match="known tags"):
        ClipEncoder.from_pretrained("ViT-B-32", pretrained="no-such-tag")
    with pytest.raises(FileNotFoundError, match="checkpoint_path"):
        ClipEncoder.from_pretrained("ViT-B-32", checkpoint_path=tmp_path / "missing.bin")
    with pytest.raises(ValueError, match="pretrained"):
        ClipEncoder.from_pretrained("ViT-B-32")


def test_from_pretrained_loads_a_local_checkpoint(tmp_path):
    config_dir = tmp_path / "configs"
    config_dir.mkdir()
    (config_dir / "fw-tiny-test.json").write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(config_dir / "fw-tiny-test.json")
    model = tiny_model(3)
    checkpoint = tmp_path / "tiny.pt"
    torch.save(model.state_dict(), checkpoint)

    enc = ClipEncoder.from_pretrained("fw-tiny-test", checkpoint_path=checkpoint, progress=False)
    assert "fw-tiny-test" in enc.model_id
    images = smooth_images(3, h=32, w=32)
    direct = ClipEncoder(model, PREPROCESS, TOKENIZER, "cpu", progress=False)
    np.testing.assert_allclose(enc.encode_images(images), direct.encode_images(images), atol=1e-5)
    np.testing.assert_allclose(
        enc.encode_texts(["a cat"]), direct.encode_texts(["a cat"]), atol=1e-5
    )


# ---------------------------------------------------------------------- cache keys and speed paths


def write_pngs(folder, images) -> list:
    paths = []
    for i, image in enumerate(images):
        path = folder / f"im{i}.png"
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


def path_evalset(paths):
    from failwidgets.data import EvalSet

    n = len(paths)
    return EvalSet.from_arrays(
        [str(p) for p in paths], np.arange(n) % 2, np.arange(n) % 2, ["a", "b"]
    )


def forbid_model(monkeypatch, enc):
    def boom(*args, **kwargs):
        raise AssertionError("the model was called for cached images")

    monkeypatch.setattr(enc.model, "encode_image", boom)


def test_cache_hit_reads_no_image_and_a_changed_file_is_a_miss(tmp_path, monkeypatch):
    import failwidgets.images

    paths = write_pngs(tmp_path, smooth_images(4))
    evalset = path_evalset(paths)
    enc = tiny_encoder()
    first = enc.encode_images(evalset)
    with monkeypatch.context() as patch:
        forbid_model(patch, enc)
        patch.setattr(failwidgets.images, "_load_rgb", lambda *a: pytest.fail("pixels read"))
        assert enc.encode_images(path_evalset(paths)) is first  # found by paths, sizes, mtimes
    Image.fromarray(smooth_images(1, seed=7)[0]).save(paths[2])
    os.utime(paths[2], ns=(1, 1))
    changed = enc.encode_images(path_evalset(paths))
    np.testing.assert_array_equal(changed[[0, 1, 3]], first[[0, 1, 3]])
    assert not np.allclose(changed[2], first[2])


def test_indices_and_settings_are_part_of_the_key(tmp_path, monkeypatch):
    from failwidgets.data import EvalSet

    images = smooth_images(6)
    evalset = EvalSet.from_arrays(images, np.arange(6) % 2, np.arange(6) % 2, ["a", "b"])
    enc = tiny_encoder(cache_dir=tmp_path, model_id="tiny")
    some = enc.encode_images(evalset, indices=[4, 0])
    with monkeypatch.context() as patch:
        forbid_model(patch, enc)
        assert enc.encode_images(evalset, indices=np.array([4, 0])) is some
        with pytest.raises(AssertionError, match="cached"):
            enc.encode_images(evalset, indices=[0, 4])
    tiny_encoder(cache_dir=tmp_path, model_id="tiny", autocast="bf16").encode_images(
        evalset, indices=[4, 0]
    )
    tiny_encoder(cache_dir=tmp_path, model_id="tiny", normalize=False).encode_images(
        evalset, indices=[4, 0]
    )
    assert len(list(tmp_path.glob("clip-*.npy"))) == 3


def test_weights_are_hashed_once_per_encoder(tmp_path, monkeypatch):
    import failwidgets.features.clip as clip

    calls = []
    real = clip.state_digest
    monkeypatch.setattr(clip, "state_digest", lambda m: calls.append(1) or real(m))
    enc = tiny_encoder(cache_dir=tmp_path)
    for seed in range(3):
        enc.encode_images(smooth_images(2, seed=seed))
    assert len(calls) == 1
    tiny_encoder(cache_dir=tmp_path, model_id="given").encode_images(smooth_images(2))
    tiny_encoder().encode_images(smooth_images(2))  # memory cache: keyed by the model object
    assert len(calls) == 1


def test_results_are_read_only_cached_arrays(tmp_path):
    enc = tiny_encoder(cache_dir=tmp_path, model_id="tiny")
    images = smooth_images(3)
    first = enc.encode_images(images)
    assert not first.flags.writeable
    assert enc.encode_images(images) is first
    from_disk = tiny_encoder(cache_dir=tmp_path, model_id="tiny").encode_images(images)
    assert not from_disk.flags.writeable
    np.testing.assert_array_equal(from_disk, first)
    enc.clear_cache()
    again = enc.encode_images(images)
    assert again is not first  # read back from disk after clear_cache
    np.testing.assert_array_equal(again, first)


def test_clear_cache_recomputes(monkeypatch):
    enc = tiny_encoder()
    images = smooth_images(3)
    enc.encode_images(images)
    enc.clear_cache()
    forbid_model(monkeypatch, enc)
    with pytest.raises(AssertionError, match="cached"):
        enc.encode_images(images)


def test_bf16_autocast_on_cpu_gives_close_embeddings():
    images = smooth_images(6)
    full = tiny_encoder().encode_images(images)
    half = tiny_encoder(autocast="bf16").encode_images(images)
    assert half.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(half, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(half, full, atol=3e-2)
    assert not np.array_equal(half, full)
    texts = tiny_encoder(autocast="bf16").encode_texts(["a cat"])
    np.testing.assert_allclose(texts, tiny_encoder().encode_texts(["a cat"]), atol=3e-2)
    with pytest.raises(ValueError, match="autocast"):
        tiny_encoder(autocast="int4")


def test_index_runs_ragged_images_and_batches_agree(tmp_path):
    from failwidgets.data import EvalSet

    images = smooth_images(9)
    evalset = EvalSet.from_arrays(images, np.arange(9) % 2, np.arange(9) % 2, ["a", "b"])
    enc = tiny_encoder(batch_size=2)
    for indices in ([2, 3, 4], [8, 1, 5, 5], list(range(9))):
        np.testing.assert_allclose(
            enc.encode_images(evalset, indices=indices),
            tiny_encoder().encode_images(images[indices]),
            atol=1e-5,
        )
    small, large = smooth_images(1, h=20, w=22, seed=3), smooth_images(1, h=40, w=30, seed=4)
    ragged = path_evalset(write_pngs(tmp_path, [small[0], large[0]]))
    np.testing.assert_allclose(
        enc.encode_images(ragged),
        np.concatenate([enc.encode_images(small), enc.encode_images(large)]),
        atol=1e-5,
    )


def test_a_failing_image_read_raises_from_the_prefetch_thread(tmp_path):
    paths = write_pngs(tmp_path, smooth_images(5))
    evalset = path_evalset(paths)
    paths[3].unlink()
    with pytest.raises(ValueError, match="im3.png"):
        tiny_encoder(batch_size=2).encode_images(evalset)


def test_progress_bar_counts_images(monkeypatch):
    import tqdm.auto

    bars = []

    class Recorder:
        def __init__(self, **kwargs):
            self.kwargs, self.count = kwargs, 0
            bars.append(self)

        def update(self, k):
            self.count += k

        def close(self):
            pass

    monkeypatch.setattr(tqdm.auto, "tqdm", Recorder)
    tiny_encoder(batch_size=4, progress=True).encode_images(smooth_images(10))
    (bar,) = bars
    assert bar.kwargs["unit"] == "img" and bar.kwargs["total"] == 10 and bar.count == 10

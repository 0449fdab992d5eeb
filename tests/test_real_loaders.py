"""Real-model loaders: robustness ResNet-50 checkpoints, open_clip by name, local datasets."""

from __future__ import annotations

import argparse
import pickle
import time

import numpy as np
import pytest
import torch

from failwidgets.models import (
    load_cifar10,
    load_image_folder,
    load_open_clip,
    load_robust_resnet50,
)

# --------------------------------------------------------------------------- robust ResNet-50
MEAN = torch.tensor([0.485, 0.456, 0.406])
STD = torch.tensor([0.229, 0.224, 0.225])


def _random_resnet50(seed=0):
    from torchvision.models import resnet50

    torch.manual_seed(seed)
    net = resnet50(weights=None)
    with torch.no_grad():  # non-trivial BN statistics, so a wrong key mapping shows
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)
    return net.eval()


def _robustness_state(net, mean=MEAN, std=STD):
    """The key layout of a DataParallel(AttackerModel) state dict (robustness library)."""
    state = {}
    for key, value in net.state_dict().items():
        state[f"module.model.{key}"] = value
        state[f"module.attacker.model.{key}"] = value
    for prefix in ("module.normalizer.", "module.attacker.normalize."):
        state[prefix + "new_mean"] = mean.view(3, 1, 1).clone()
        state[prefix + "new_std"] = std.view(3, 1, 1).clone()
    return state


@pytest.fixture(scope="module")
def robust_checkpoint(tmp_path_factory):
    net = _random_resnet50()
    path = tmp_path_factory.mktemp("ckpt") / "imagenet_l2_3_0.pt"
    torch.save({"model": _robustness_state(net), "epoch": 90, "schedule": None}, path)
    return path, net


def test_robust_resnet50_matches_torchvision_on_normalised_input(robust_checkpoint):
    path, net = robust_checkpoint
    model = load_robust_resnet50(path)
    assert not model.training
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = net((x - MEAN.view(1, 3, 1, 1)) / STD.view(1, 3, 1, 1))
        logits = model(x)
        fmap = model.forward_features_map(x)
        feats = model.forward_features(x)
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)
    assert fmap.shape == (2, 2048, 2, 2)
    assert feats.shape == (2, 2048) and model.n_features == 2048
    torch.testing.assert_close(feats, fmap.mean(dim=(2, 3)))
    assert bool((fmap >= 0).all())  # after layer4's ReLU
    torch.testing.assert_close(model.mean.flatten(), MEAN)
    torch.testing.assert_close(model.std.flatten(), STD)


def test_robust_resnet50_state_dict_entry_and_other_normaliser(tmp_path):
    net = _random_resnet50(seed=2)
    mean, std = torch.tensor([0.5, 0.4, 0.3]), torch.tensor([0.2, 0.3, 0.25])
    path = tmp_path / "other.pt"
    torch.save({"state_dict": _robustness_state(net, mean, std)}, path)
    model = load_robust_resnet50(path)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        expected = net((x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))
        torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-4)


def test_robust_resnet50_missing_file_says_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="imagenet_l2_3_0.pt") as info:
        load_robust_resnet50(tmp_path / "nope.pt")
    assert "MadryLab/robustness" in str(info.value)
    with pytest.raises(TypeError, match="path"):
        load_robust_resnet50(None)


def test_robust_resnet50_rejects_wrong_layouts(tmp_path):
    path = tmp_path / "wrong.pt"
    torch.save({"weights": {"conv1.weight": torch.zeros(1)}}, path)
    with pytest.raises(ValueError, match="robustness-library checkpoint"):
        load_robust_resnet50(path)
    torch.save({"model": {"module.model.conv1.weight": torch.zeros(64, 3, 7, 7)}}, path)
    with pytest.raises(ValueError, match="fc.weight"):
        load_robust_resnet50(path)
    torch.save(
        {
            "model": {
                "module.model.fc.weight": torch.zeros(10, 2048),
                "module.model.x": torch.ones(1),
            }
        },
        path,
    )
    with pytest.raises(ValueError, match="does not match torchvision's resnet50"):
        load_robust_resnet50(path)


def test_robust_resnet50_pickled_objects_need_explicit_trust(tmp_path):
    from torchvision.models import resnet50

    state = _robustness_state(resnet50(weights=None))
    path = tmp_path / "with_args.pt"
    torch.save({"model": state, "args": argparse.Namespace(eps=3.0)}, path)
    with pytest.raises(ValueError, match="weights_only=False"):
        load_robust_resnet50(path)
    model = load_robust_resnet50(path, weights_only=False)
    assert model.n_features == 2048


# --------------------------------------------------------------------------- open_clip
TINY = "failwidgets-test-tiny"
TINY_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture
def tiny_open_clip(monkeypatch, tmp_path):
    """A tiny architecture and a pretrained tag for it, registered only for this test."""
    import open_clip
    from open_clip import factory, pretrained

    monkeypatch.setitem(factory._MODEL_CONFIGS, TINY, TINY_CFG)
    monkeypatch.setitem(
        pretrained._PRETRAINED,
        TINY,
        {
            "mytag": {
                "url": "",
                "hf_hub": "nobody/failwidgets-tiny/",
                "mean": (0.5, 0.5, 0.5),
                "std": (0.25, 0.25, 0.25),
                "interpolation": "bicubic",
                "resize_mode": "shortest",
                "quick_gelu": True,
            }
        },
    )
    torch.manual_seed(0)
    model = open_clip.create_model(TINY, force_quick_gelu=True)
    path = tmp_path / "tiny.pt"
    torch.save(model.state_dict(), path)
    return model, path


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_open_clip_offline_missing_pretrained_fails_at_once(monkeypatch, tmp_path):
    import open_clip  # noqa: F401  (import time is not the loader's)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name, tag in (("ViT-B-32", "laion2b_s34b_b79k"), ("RN50", "openai")):
        start = time.perf_counter()
        with pytest.raises(FileNotFoundError, match="checkpoint_path") as info:
            load_open_clip(name, pretrained=tag, cache_dir=str(tmp_path))
        assert time.perf_counter() - start < 1.0  # no model built, no network tried
        assert tag in str(info.value) and "HF_HUB_OFFLINE" in str(info.value)


def test_open_clip_bad_names_and_tags(tmp_path):
    with pytest.raises(ValueError, match="not an open_clip model.*ViT-B-32"):
        load_open_clip("ViT-B-23")
    with pytest.raises(ValueError, match="not a pretrained tag"):
        load_open_clip("ViT-B-32", pretrained="no-such-tag")
    with pytest.raises(FileNotFoundError, match="checkpoint_path"):
        load_open_clip("ViT-B-32", checkpoint_path=tmp_path / "missing.pt")
    with pytest.raises(TypeError, match="name"):
        load_open_clip(None)


def test_open_clip_local_checkpoint_with_tag_settings(tiny_open_clip):
    reference, path = tiny_open_clip
    model, preprocess, tokenizer = load_open_clip(TINY, pretrained="mytag", checkpoint_path=path)
    assert _same_weights(model, reference) and not model.training
    from open_clip.transformer import QuickGELU

    assert any(isinstance(m, QuickGELU) for m in model.modules())  # the tag's activation
    normalize = preprocess.transforms[-1]
    assert tuple(normalize.mean) == (0.5, 0.5, 0.5) and tuple(normalize.std) == (0.25,) * 3
    assert tokenizer(["a photo of a cat"]).shape == (1, 16)
    # without a tag: plain architecture defaults, same weights
    plain, _, _ = load_open_clip(TINY, checkpoint_path=path, device="cpu")
    assert not any(isinstance(m, QuickGELU) for m in plain.modules())


def test_open_clip_offline_uses_the_hf_cache(monkeypatch, tmp_path, tiny_open_clip):
    reference, path = tiny_open_clip
    snapshot = tmp_path / "hub" / "models--nobody--failwidgets-tiny" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_pytorch_model.bin").write_bytes(path.read_bytes())
    refs = tmp_path / "hub" / "models--nobody--failwidgets-tiny" / "refs"
    refs.mkdir()
    (refs / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model, _, _ = load_open_clip(TINY, pretrained="mytag", cache_dir=str(tmp_path / "hub"))
    assert _same_weights(model, reference)


# --------------------------------------------------------------------------- datasets
def _write_fake_cifar10(root, n_per_batch=4, seed=0):
    """torchvision's CIFAR-10 python layout: pickled dicts of uint8 rows (R, G, B planes)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    images, labels = {}, {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        hwc = rng.integers(0, 256, size=(n_per_batch, 32, 32, 3), dtype=np.uint8)
        lab = rng.integers(0, 10, size=n_per_batch).tolist()
        entry = {
            "batch_label": name,
            "labels": lab,
            "data": hwc.transpose(0, 3, 1, 2).reshape(n_per_batch, 3072),
            "filenames": [f"{name}_{i}.png" for i in range(n_per_batch)],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)
        images[name], labels[name] = hwc, lab
    names = "airplane automobile bird cat deer dog frog horse ship truck".split()
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names, "num_cases_per_batch": n_per_batch, "num_vis": 3072}, f)
    return images, labels, names


def test_load_cifar10_reads_torchvision_layout(tmp_path):
    images, labels, names = _write_fake_cifar10(tmp_path)
    test = load_cifar10(tmp_path, "test", verify=False)
    assert len(test) == 4 and test.classes == names
    np.testing.assert_array_equal(test.data, images["test_batch"])
    assert test.targets == labels["test_batch"]
    train = load_cifar10(tmp_path / "cifar-10-batches-py", split="train", verify=False)
    assert len(train) == 20
    np.testing.assert_array_equal(train.data[4:8], images["data_batch_2"])
    image, label = train[5]
    np.testing.assert_array_equal(np.asarray(image), images["data_batch_2"][1])
    assert label == labels["data_batch_2"][1]


def test_load_cifar10_checks_md5_by_default(tmp_path):
    _write_fake_cifar10(tmp_path)
    with pytest.raises(ValueError, match="MD5"):
        load_cifar10(tmp_path, "test")


def test_load_cifar10_missing_and_bad_split(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py") as info:
        load_cifar10(tmp_path, "test")
    assert "download=True" in str(info.value)
    with pytest.raises(ValueError, match="split"):
        load_cifar10(tmp_path, "validation")
    with pytest.raises(TypeError, match="root"):
        load_cifar10(None)


def test_load_image_folder(tmp_path):
    from PIL import Image

    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        Image.new("RGB", (8, 8), (10, 20, 30)).save(tmp_path / cls / "a.png")
    data = load_image_folder(tmp_path)
    assert data.classes == ["cat", "dog"] and len(data) == 2
    with pytest.raises(FileNotFoundError, match="no folder"):
        load_image_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="sub-folder per class"):
        load_image_folder(tmp_path / "empty")

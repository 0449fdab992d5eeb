"""Splitting a classifier into bottom b(x) and top t(h) with f = t(b(x))."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from failwidgets.features.split import (
    SplitMismatchError,
    SplitModel,
    split_model,
    split_points,
)

torch.set_num_threads(1)


def _images(size: int, n: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _sequential_cnn() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU()),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 5),
    )


class FunctionalCNN(nn.Module):
    """A demo-style CNN whose forward has functional ops after the named layers."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.relu(self.conv2(x))
        x = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.head(x)


# ----------------------------------------------------------------- reproduction
@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None, num_classes=7)


@pytest.fixture(scope="module")
def squeezenet():
    torch.manual_seed(0)
    return torchvision.models.squeezenet1_1(weights=None, num_classes=6)


@pytest.fixture(scope="module")
def densenet():
    torch.manual_seed(0)
    return torchvision.models.densenet121(weights=None, num_classes=5)


@pytest.mark.parametrize("method", ["fx", "chain"])
@pytest.mark.parametrize("layer", ["layer4", "avgpool", "layer3.1", "bn1"])
def test_resnet18_split_reproduces_logits(resnet, method, layer):
    split = split_model(resnet, layer, method=method)
    assert split.check(_images(32)) <= 1e-4


@pytest.mark.parametrize("method", ["fx", "chain"])
@pytest.mark.parametrize("layer", ["features.12", "features.5", "classifier.1"])
def test_squeezenet_split_reproduces_logits(squeezenet, method, layer):
    split = split_model(squeezenet, layer, method=method)
    assert split.check(_images(64)) <= 1e-4
    if layer == "features.12":  # the reference's 86,528-d layer at 224x224 is this one
        assert split.activations(_images(64, n=1)).shape == (1, 512, 3, 3)


@pytest.mark.parametrize("method", ["fx", "chain"])
@pytest.mark.parametrize("layer", ["features", "features.transition2"])
def test_densenet_split_reproduces_logits(densenet, method, layer):
    # DenseNet's forward applies F.relu(inplace) + pooling + flatten after `features`.
    split = split_model(densenet, layer, method=method)
    assert split.check(_images(32)) <= 1e-4


@pytest.mark.parametrize("method", ["fx", "chain"])
@pytest.mark.parametrize("layer", ["2", "3", "3.1", "5", "6"])
def test_sequential_cnn_split(method, layer):
    model = _sequential_cnn()
    split = split_model(model, layer, method=method)
    assert split.check(_images(16, n=3)) <= 1e-5


@pytest.mark.parametrize("layer", ["conv1", "conv2"])
def test_functional_forward_split_with_fx(layer):
    model = FunctionalCNN()
    split = split_model(model, layer)
    x = _images(16)
    assert split.check(x) <= 1e-5
    h = split.activations(x)
    assert h.shape == ((2, 8, 16, 16) if layer == "conv1" else (2, 16, 8, 8))


def test_two_callables_split():
    model = _sequential_cnn().eval()
    bottom, top = model[:4], model[4:]
    split = SplitModel.from_callables(bottom, top, model=model)
    assert split.check(_images(16)) <= 1e-6
    h = split.activations(_images(16), batch_size=1)
    assert h.shape == (2, 16, 8, 8)


def test_check_detects_a_wrong_split():
    model = _sequential_cnn().eval()
    wrong_top = nn.Sequential(model[4], nn.Flatten(), nn.Linear(16 * 4 * 4, 5))
    split = SplitModel.from_callables(model[:4], wrong_top, model=model)
    with pytest.raises(SplitMismatchError, match="does not reproduce"):
        split.check(_images(16))
    with pytest.raises(ValueError, match="no full model"):
        SplitModel.from_callables(model[:4], model[4:]).check(_images(16))


def test_top_does_not_modify_its_input(resnet, densenet):
    # resnet: nn.ReLU(inplace) right after bn1; densenet: F.relu(inplace) after features.
    for model, layer, size in [(resnet, "bn1", 32), (densenet, "features", 32)]:
        split = split_model(model, layer)
        h = split.activations(_images(size)) - 1.0  # negative values a ReLU would zero
        before = h.clone()
        with torch.no_grad():
            split.top(h)
        assert torch.equal(h, before)


# ------------------------------------------------------------------- bad input
def test_unknown_layer_lists_valid_ones(resnet):
    model = resnet
    with pytest.raises(ValueError, match="not a module of ResNet.*valid layers: conv1, bn1"):
        split_model(model, "layer9")
    with pytest.raises(ValueError, match="valid layers:.*layer4"):
        split_model(model, "layer9", method="chain")


def test_layer_inside_a_residual_block_is_refused(resnet):
    model = resnet
    with pytest.raises(ValueError, match="not the only value flowing on.*valid layers"):
        split_model(model, "layer4.0.conv1")
    assert "layer4.0.conv1" not in split_points(model)
    assert {"layer4", "layer4.1", "avgpool", "fc"} <= set(split_points(model))


def test_split_points_chain_order(squeezenet):
    points = split_points(squeezenet, method="chain")
    assert points[:3] == ["features.0", "features.1", "features.2"]
    assert points.index("features.12") < points.index("features") < points.index("classifier.0")


def test_bad_arguments():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        split_model(lambda x: x, "layer")
    with pytest.raises(TypeError, match="layer must be a module name"):
        split_model(_sequential_cnn(), 3)
    with pytest.raises(ValueError, match="method"):
        split_model(_sequential_cnn(), "3", method="magic")
    with pytest.raises(ValueError, match="method='chain' supports"):
        split_points(FunctionalCNN(), method="chain")


def test_wrong_image_size_is_a_clear_error():
    model = _sequential_cnn()
    split = split_model(model, "3")
    with pytest.raises(ValueError, match="do not fit the model"):
        split.check(_images(16)[:, :1])  # one channel instead of three
    top_heavy = split_model(model, "6")  # the Linear layer needs 16x16 inputs
    with pytest.raises(ValueError, match=r"images of shape \(3, 20, 20\) do not fit"):
        top_heavy.activations(_images(20))
    sized = split_model(model, "3", input_size=(3, 16, 16))
    with pytest.raises(ValueError, match=r"it takes \(3, 16, 16\)"):
        sized.activations(_images(24))

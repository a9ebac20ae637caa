"""The colorization networks: L (B, 1, H, W) in [-1, 1] -> ab (B, 2, H, W) scaled by 1/110. No training or I/O here.

`build_model(encoder, pretrained)` returns a `ColorizationNet`: an encoder producing a feature map at 1/8 (the
paper's ResNet-18 trunk) or a feature pyramid (EfficientNet-Lite0), and a decoder that upsamples back to the input
size. Any input size works: inputs are padded to a multiple of the encoder's stride and the output cropped back.

With `input_channels=4` the network also takes colour hints (`colorizer.conventions`: hint a, hint b, mask after L).
They enter twice: at the encoder's first convolution, whose receptive field lets a colour spread along an object
and stop at its edges, and at the U-Net decoder's full-resolution head, which already sees the input and so gets a
short, precise path to put the colour exactly where the hint is. Each entry is its own small convolution over the
hint channels (`hint_*` modules), added to the output of the layer it joins: without hints the hint channels are
all zero and so are these additions, so a model trained without hints loads into one with hints
(`load_without_hints`) and, given no hints, gives exactly its old output. Being separate modules, the hint
convolutions get their own, larger learning rate (HINT_LR_FACTOR): when they were slices of the pretrained
convolutions, fine-tuning the bundled model at its learning rate barely learnt to follow hints in 10 epochs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18

from colorizer.training.encoders import EFFICIENTNET_LITE, EfficientNetLiteEncoder, WeightsError, load_resnet18_weights


def conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class ResNet18Trunk(nn.Module):
    """The paper's encoder: ResNet-18's first six children (conv1, bn1, relu, maxpool, layer1, layer2).

    One input channel: conv1's RGB kernels are summed (Melas-Kyriazi 2018). Output: (B, 128, H/8, W/8).
    """

    stride = 8

    def __init__(self, pretrained: str = "none", input_channels: int = 1):
        super().__init__()
        resnet = resnet18(weights=None)
        self.hint_conv1 = nn.Conv2d(input_channels - 1, 64, 7, 2, 3, bias=False) if input_channels > 1 else None
        if pretrained != "none":
            missing, unexpected = resnet.load_state_dict(load_resnet18_weights(pretrained), strict=False)
            if unexpected or any(not key.startswith("fc.") for key in missing):  # only the classifier may be absent
                raise WeightsError(f"--pretrained {pretrained}: missing {missing}, unexpected {unexpected}")
        resnet.conv1.weight = nn.Parameter(resnet.conv1.weight.sum(dim=1, keepdim=True))
        resnet.conv1.in_channels = 1
        self.layers = nn.Sequential(*list(resnet.children())[:6])

    def forward(self, inputs: torch.Tensor) -> list[torch.Tensor]:
        x = self.layers[0](inputs[:, :1])
        if self.hint_conv1 is not None:
            x = x + self.hint_conv1(inputs[:, 1:])
        return [self.layers[1:](x)]


class PaperDecoder(nn.Module):
    """Melas-Kyriazi's decoder: conv-BN-ReLU blocks with three 2x nearest upsamplings, 128 channels -> 2 (ab)."""

    def __init__(self, out_channels: int = 2):
        super().__init__()
        up = lambda: nn.Upsample(scale_factor=2)  # noqa: E731
        self.layers = nn.Sequential(
            *conv_bn_relu(128, 128),
            up(),
            *conv_bn_relu(128, 64),
            *conv_bn_relu(64, 64),
            up(),
            *conv_bn_relu(64, 32),
            nn.Conv2d(32, out_channels, 3, padding=1),
            up(),
        )

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self.layers(features[-1])


class UNetDecoder(nn.Module):
    """A light U-Net decoder over a feature pyramid (finest first): upsample, concatenate the skip, conv-BN-ReLU."""

    def __init__(self, channels: list[int], out_channels: int = 2, width: int = 64, input_channels: int = 1):
        super().__init__()
        self.stages = nn.ModuleList()
        current = channels[-1]
        for skip in reversed(channels[:-1]):
            self.stages.append(nn.Sequential(*conv_bn_relu(current + skip, width)))
            current = width
        self.head = nn.Sequential(*conv_bn_relu(width + 1, 32), nn.Conv2d(32, out_channels, 3, padding=1))
        self.hint_head = nn.Conv2d(input_channels - 1, 32, 3, padding=1, bias=False) if input_channels > 1 else None

    def forward(self, features: list[torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
        """inputs: the network's (B, C, H, W) input (L, and the hint channels when C = 4)."""
        x = features[-1]
        for stage, skip in zip(self.stages, reversed(features[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = stage(torch.cat([x, skip], dim=1))
        x = F.interpolate(x, size=inputs.shape[-2:], mode="bilinear", align_corners=False)
        x = self.head[0](torch.cat([x, inputs[:, :1]], dim=1))
        if self.hint_head is not None:
            x = x + self.hint_head(inputs[:, 1:])
        return self.head[1:](x)


HINT_LR_FACTOR = 50.0  # the hint convolutions learn this much faster than the rest of the network


def is_hint_parameter(name: str) -> bool:
    return ".hint_" in f".{name}"


def load_without_hints(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load a state dict into `model`, which may have hint convolutions the state dict lacks (they keep their
    initial values: a model trained without hints starts one with hints). Anything else missing is an error."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    others = [k for k in missing if not is_hint_parameter(k)]
    if others or unexpected:
        raise RuntimeError(f"missing {others}, unexpected {unexpected}")


class ColorizationNet(nn.Module):
    """Encoder + decoder. forward: (B, C, H, W) L in [-1, 1] (+ hint a, b, mask) -> (B, 2, H, W) ab (or bin logits)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, input_channels: int = 1):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.input_channels = input_channels  # 1: L; 4: L + colour hints (colorizer.conventions)

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        height, width = l_norm.shape[-2:]
        stride = self.encoder.stride
        pad_h, pad_w = -height % stride, -width % stride
        x = F.pad(l_norm, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else l_norm
        return self.predict(x)[..., :height, :width]

    def predict(self, l_norm: torch.Tensor) -> torch.Tensor:
        """forward for inputs whose sides are multiples of the encoder's stride (what the ONNX export holds)."""
        features = self.encoder(l_norm)
        return self.decoder(features, l_norm) if isinstance(self.decoder, UNetDecoder) else self.decoder(features)


def build_model(
    encoder: str = "resnet18", pretrained: str = "none", out_channels: int = 2, input_channels: int = 1
) -> ColorizationNet:
    """The network for an encoder name; `pretrained` is 'none', 'imagenet' or a path to encoder weights;
    input_channels 1 (L) or 4 (L + colour hints)."""
    if input_channels not in (1, 4):
        raise ValueError(f"input_channels must be 1 (L) or 4 (L + hints), got {input_channels}")
    if encoder == "resnet18":
        return ColorizationNet(ResNet18Trunk(pretrained, input_channels), PaperDecoder(out_channels), input_channels)
    if encoder in EFFICIENTNET_LITE:
        trunk = EfficientNetLiteEncoder(pretrained, input_channels, encoder)
        decoder = UNetDecoder(trunk.channels, out_channels, input_channels=input_channels)
        return ColorizationNet(trunk, decoder, input_channels)
    raise ValueError(f"unknown encoder {encoder!r}")

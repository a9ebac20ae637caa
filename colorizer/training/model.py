"""The colorization networks: L (B, 1, H, W) in [-1, 1] -> ab (B, 2, H, W) scaled by 1/110. No training or I/O here.

`build_model(encoder, pretrained)` returns a `ColorizationNet`: an encoder producing a feature map at 1/8 (the
paper's ResNet-18 trunk) or a feature pyramid (EfficientNet-Lite0), and a decoder that upsamples back to the input
size. Any input size works: inputs are padded to a multiple of the encoder's stride and the output cropped back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18

from colorizer.training.encoders import EfficientNetLite0Encoder, WeightsError, load_resnet18_weights


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

    def __init__(self, pretrained: str = "none"):
        super().__init__()
        resnet = resnet18(weights=None)
        if pretrained != "none":
            missing, unexpected = resnet.load_state_dict(load_resnet18_weights(pretrained), strict=False)
            if unexpected or any(not key.startswith("fc.") for key in missing):  # only the classifier may be absent
                raise WeightsError(f"--pretrained {pretrained}: missing {missing}, unexpected {unexpected}")
        resnet.conv1.weight = nn.Parameter(resnet.conv1.weight.sum(dim=1, keepdim=True))
        resnet.conv1.in_channels = 1
        self.layers = nn.Sequential(*list(resnet.children())[:6])

    def forward(self, l_norm: torch.Tensor) -> list[torch.Tensor]:
        return [self.layers(l_norm)]


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

    def __init__(self, channels: list[int], out_channels: int = 2, width: int = 64):
        super().__init__()
        self.stages = nn.ModuleList()
        current = channels[-1]
        for skip in reversed(channels[:-1]):
            self.stages.append(nn.Sequential(*conv_bn_relu(current + skip, width)))
            current = width
        self.head = nn.Sequential(*conv_bn_relu(width + 1, 32), nn.Conv2d(32, out_channels, 3, padding=1))

    def forward(self, features: list[torch.Tensor], l_norm: torch.Tensor) -> torch.Tensor:
        x = features[-1]
        for stage, skip in zip(self.stages, reversed(features[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = stage(torch.cat([x, skip], dim=1))
        x = F.interpolate(x, size=l_norm.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(torch.cat([x, l_norm], dim=1))


class ColorizationNet(nn.Module):
    """Encoder + decoder. forward: (B, 1, H, W) L in [-1, 1] -> (B, C, H, W), C = 2 ab channels."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

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


def build_model(encoder: str = "resnet18", pretrained: str = "none", out_channels: int = 2) -> ColorizationNet:
    """The network for an encoder name; `pretrained` is 'none', 'imagenet' or a path to encoder weights."""
    if encoder == "resnet18":
        return ColorizationNet(ResNet18Trunk(pretrained), PaperDecoder(out_channels))
    if encoder == "efficientnet-lite0":
        trunk = EfficientNetLite0Encoder(pretrained)
        return ColorizationNet(trunk, UNetDecoder(trunk.channels, out_channels))
    raise ValueError(f"unknown encoder {encoder!r}")

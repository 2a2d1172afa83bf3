"""MTCNN's three stages (PNet, RNet, ONet) as torch modules, loading facenet-pytorch's weights.

The layer names match facenet-pytorch 2.6.0's state dicts so ``pnet.pt`` / ``rnet.pt`` / ``onet.pt``
load unchanged. Differences from facenet-pytorch, for the ONNX contract in docs/architecture.md:
outputs are ordered ``prob`` first and the softmax is in the graph. Inputs are natural NCHW RGB
(H = rows), normalised as (pixel - 127.5) * 0.0078125, exactly what facenet-pytorch feeds them.
"""

from __future__ import annotations

import torch
from torch import nn

from model_export.sources import mtcnn_weights

INPUT_MEAN = 127.5
INPUT_SCALE = 0.0078125


class PNet(nn.Module):
    """Proposal net: fully convolutional, one 12×12 window per output cell at stride 2."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu2(self.conv2(x))
        x = self.prelu3(self.conv3(x))
        prob = torch.softmax(self.conv4_1(x), dim=1)
        reg = self.conv4_2(x)
        return prob, reg


class RNet(nn.Module):
    """Refinement net on 24×24 crops."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        # The dense weights were converted from Caffe, which flattens (W, H, C): keep that order
        # here so callers can feed natural-axis crops.
        x = x.permute(0, 3, 2, 1).flatten(1)
        x = self.prelu4(self.dense4(x))
        prob = torch.softmax(self.dense5_1(x), dim=1)
        reg = self.dense5_2(x)
        return prob, reg


class ONet(nn.Module):
    """Output net on 48×48 crops: final score, box regression and five landmarks."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).flatten(1)  # Caffe's flatten order, as in RNet
        x = self.prelu5(self.dense5(x))
        prob = torch.softmax(self.dense6_1(x), dim=1)
        reg = self.dense6_2(x)
        landmarks = self.dense6_3(x)  # x1..x5 then y1..y5, relative to the box
        return prob, reg, landmarks


NETS: dict[str, type[nn.Module]] = {"pnet": PNet, "rnet": RNet, "onet": ONet}
INPUT_SIZES: dict[str, int | None] = {"pnet": None, "rnet": 24, "onet": 48}
OUTPUT_NAMES: dict[str, list[str]] = {
    "pnet": ["prob", "reg"],
    "rnet": ["prob", "reg"],
    "onet": ["prob", "reg", "landmarks"],
}


def load(name: str) -> nn.Module:
    """Build ``pnet``/``rnet``/``onet`` with facenet-pytorch's pretrained weights, in eval mode."""
    net = NETS[name]()
    state = torch.load(mtcnn_weights(name).path, map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    return net.eval()

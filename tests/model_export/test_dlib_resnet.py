"""The torch port of dlib's ResNet: structure, add_prev padding rule, parity with dlib."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_export import parity
from model_export.dlib_resnet import DlibResNet, _pad_end, load


@pytest.fixture(scope="module")
def net() -> DlibResNet:
    return load()


def test_has_fourteen_residual_blocks_four_of_them_downsampling(net: DlibResNet) -> None:
    assert len(net.blocks) == 14
    assert sum(block.pool is not None for block in net.blocks) == 4


def test_mismatched_residual_branches_are_zero_padded_at_the_end() -> None:
    x = torch.ones(1, 2, 3, 3)
    padded = _pad_end(x, 4, 4, 4)
    assert padded.shape == (1, 4, 4, 4)
    assert padded[0, :2, :3, :3].eq(1).all()
    assert padded[0, 2:].eq(0).all()
    assert padded[0, :, 3, :].eq(0).all()
    assert padded[0, :, :, 3].eq(0).all()


def test_feature_map_is_2x2x256_before_pooling(net: DlibResNet) -> None:
    x = torch.zeros(1, 3, 150, 150)
    with torch.no_grad():
        x = torch.nn.functional.max_pool2d(torch.relu(net.stem(x)), 3, 2)
        assert x.shape == (1, 32, 35, 35)
        assert net.blocks(x).shape == (1, 256, 2, 2)


def test_descriptor_is_128_wide_and_not_normalised(net: DlibResNet) -> None:
    chips = parity.normalise_chips(parity.load_chips(parity.chip_paths()[:4]))
    with torch.no_grad():
        out = net(torch.from_numpy(chips)).numpy()
    assert out.shape == (4, 128)
    norms = np.linalg.norm(out, axis=1)
    assert (norms > 1.2).all() and (norms < 1.7).all()


def test_torch_port_matches_dlib_on_fixture_chips(net: DlibResNet) -> None:
    if not parity.dlib_available():
        pytest.skip("dlib is not importable (install dlib-bin, an export/dev dependency)")
    chips = parity.load_chips(sorted(parity.FIXTURE_CHIPS.glob("*.jpg")))
    with torch.no_grad():
        ours = net(torch.from_numpy(parity.normalise_chips(chips))).numpy()
    assert parity.cosine(ours, parity.dlib_descriptors(chips)).min() >= parity.DLIB_MIN_COSINE


def test_bgr_input_is_measurably_wrong(net: DlibResNet) -> None:
    # Guards the channel order: feeding BGR must not also pass the parity bar.
    if not parity.dlib_available():
        pytest.skip("dlib is not importable (install dlib-bin, an export/dev dependency)")
    chips = parity.load_chips(parity.chip_paths()[:4])
    with torch.no_grad():
        bgr = net(torch.from_numpy(parity.normalise_chips(chips[..., ::-1].copy()))).numpy()
    assert parity.cosine(bgr, parity.dlib_descriptors(chips)).min() < parity.DLIB_MIN_COSINE

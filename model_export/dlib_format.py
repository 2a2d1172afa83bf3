"""Reader for dlib's serialization format and its DNN files, in pure Python + numpy.

Primitives (dlib/serialize.h), checked against ``dlib_face_recognition_resnet_model_v1.dat``:

- int: a control byte ``c``; ``c & 0x0F`` little-endian magnitude bytes follow; negative if
  ``c & 0x80``.
- float/double: two ints, mantissa then exponent: value = mantissa · 2**exponent; the exponents
  32000/32001/32002 stand for +inf/−inf/NaN.
- bool: one ASCII byte, ``'1'`` or ``'0'``.
- string: int length, then the bytes.
- tensor: int version (2), ints n, k, nr, nc, then n·k·nr·nc little-endian float32 (NCHW).
- alias_tensor: int version (1), ints n, k, nr, nc (a view's shape, no data).

A network nests one template per layer, and each ``serialize`` writes its version int before its
sub-network, so all versions come first, outermost to innermost (2 = computational layer,
1 = tag or skip, 3 = the innermost layer that owns the input layer); then the input layer's record;
then each computational layer's record from innermost to outermost, each followed by dlib's
bookkeeping (three bools and three tensors; the innermost layer adds an int). The loss layer wraps
everything and is written first. Tag and skip ids are not stored, so the topology of a particular
network has to come from its C++ definition (see ``dlib_resnet.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_INF, _NINF, _NAN = 32000, 32001, 32002
_LAYER_VERSION, _TAG_OR_SKIP_VERSION, _INPUT_LAYER_VERSION = 2, 1, 3


class DlibFormatError(ValueError):
    """The bytes are not what a dlib DNN file should hold at this offset."""


@dataclass
class Layer:
    """One layer record. ``kind`` is the record name without its version suffix."""

    kind: str  # con, affine, bn_con, relu, max_pool, avg_pool, add_prev, fc, tag_or_skip, ...
    record: str = ""  # the name exactly as stored, e.g. "con_4"; empty for tags/skips
    offset: int = -1  # where the record starts in the file
    attrs: dict[str, Any] = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)  # named views of dlib's params
    param_count: int = 0  # size of dlib's params tensor (what dlib counts as parameters)


@dataclass
class Network:
    loss: Layer
    input: Layer
    layers: list[Layer]  # execution order: innermost (next to the input) first

    @property
    def computational(self) -> list[Layer]:
        return [layer for layer in self.layers if layer.kind != "tag_or_skip"]

    @property
    def num_layers(self) -> int:
        """Computational layers, i.e. excluding input, loss, tags and skips."""
        return len(self.computational)

    @property
    def num_convolutions(self) -> int:
        return sum(layer.kind == "con" for layer in self.layers)

    @property
    def num_parameters(self) -> int:
        return sum(layer.param_count for layer in self.layers)


class Reader:
    """Cursor over dlib-serialized bytes; every error names the byte offset where it happened."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def _take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise DlibFormatError(
                f"truncated input: {what} needs {n} byte(s) at offset {self.pos}, "
                f"but the data ends at offset {len(self.data)}"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int(self, max_bytes: int = 8) -> int:
        start = self.pos
        control = self._take(1, "an int's control byte")[0]
        size = control & 0x0F
        if size > max_bytes or control & 0x70:
            raise DlibFormatError(
                f"invalid int control byte 0x{control:02x} at offset {start} "
                f"(at most {max_bytes} magnitude bytes allowed)"
            )
        value = int.from_bytes(self._take(size, "an int's magnitude"), "little")
        return -value if control & 0x80 else value

    def float(self) -> float:
        mantissa = self.int(8)
        exponent = self.int(2)
        if exponent == _INF:
            return math.inf
        if exponent == _NINF:
            return -math.inf
        if exponent == _NAN:
            return math.nan
        return math.ldexp(float(mantissa), exponent)

    def bool(self) -> bool:
        start = self.pos
        byte = bytes(self._take(1, "a bool"))
        if byte not in (b"0", b"1"):
            raise DlibFormatError(f"invalid bool byte {byte!r} at offset {start}")
        return byte == b"1"

    def string(self) -> str:
        start = self.pos
        length = self.int()
        raw = bytes(self._take(length, f"a {length}-byte string (length read at offset {start})"))
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise DlibFormatError(f"non-ASCII string at offset {start}") from exc

    def _version(self, expected: int, what: str) -> None:
        start = self.pos
        version = self.int()
        if version != expected:
            raise DlibFormatError(f"unsupported {what} version {version} at offset {start}")

    def tensor(self) -> np.ndarray:
        self._version(2, "tensor")
        shape = tuple(self.int() for _ in range(4))
        if any(dim < 0 for dim in shape):
            raise DlibFormatError(f"negative tensor shape {shape} before offset {self.pos}")
        count = math.prod(shape)
        raw = self._take(4 * count, f"a tensor of shape {shape}")
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)

    def alias_tensor(self) -> tuple[int, int, int, int]:
        self._version(1, "alias_tensor")
        n, k, nr, nc = (self.int() for _ in range(4))
        return n, k, nr, nc

    def at_end(self) -> bool:
        return self.pos == len(self.data)


# -- layer records -------------------------------------------------------------------------------


def _split(params: np.ndarray, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    """dlib's layers keep all parameters in one flat tensor and view slices of it."""
    flat = params.reshape(-1)
    out, start = [], 0
    for shape in shapes:
        size = math.prod(shape)
        out.append(flat[start : start + size].reshape(shape))
        start += size
    if start != flat.size:
        raise DlibFormatError(f"params hold {flat.size} values but the views need {start}")
    return out


def _con(r: Reader, layer: Layer, version: int) -> None:
    params = r.tensor()
    num_filters = r.int()
    nr, nc, stride_y, stride_x, pad_y, pad_x = (r.int() for _ in range(6))
    filters = r.alias_tensor()
    biases = r.alias_tensor()
    for _ in range(4):  # learning-rate and weight-decay multipliers: training only
        r.float()
    use_bias = r.bool() if version >= 5 else True
    use_relu = r.bool() if version >= 6 else False  # con_6 can fuse a relu into the layer
    weight, bias = _split(params, filters, biases)
    layer.attrs.update(
        num_filters=num_filters,
        kernel=(nr, nc),
        stride=(stride_y, stride_x),
        padding=(pad_y, pad_x),
        use_bias=use_bias and bias.size > 0,
        use_relu=use_relu,
    )
    layer.params["weight"] = weight
    if bias.size:
        layer.params["bias"] = bias.reshape(-1)
    layer.param_count = params.size


def _affine(r: Reader, layer: Layer, version: int) -> None:
    params = r.tensor()
    gamma_shape = r.alias_tensor()
    beta_shape = r.alias_tensor()
    layer.attrs["mode"] = "conv" if r.int() == 1 else "fc"
    gamma, beta = _split(params, gamma_shape, beta_shape)
    layer.params.update(gamma=gamma.reshape(-1), beta=beta.reshape(-1))
    layer.param_count = params.size


def _bn(r: Reader, layer: Layer, version: int) -> None:
    # bn_ as saved during training: fold its running statistics into an affine transform so the
    # rest of the exporter only ever sees "affine".
    params = r.tensor()
    gamma_shape = r.alias_tensor()
    beta_shape = r.alias_tensor()
    r.tensor()  # means of the last mini-batch
    r.tensor()  # invstds of the last mini-batch
    running_means = r.tensor().reshape(-1)
    running_variances = r.tensor().reshape(-1)
    r.int()  # num_updates
    r.int()  # running_stats_window_size
    eps = 1e-5  # bn_con (version 1) predates per-layer eps: dlib's default then
    if version >= 2:
        for _ in range(4):  # learning-rate and weight-decay multipliers
            r.float()
        eps = r.float()
    gamma, beta = _split(params, gamma_shape, beta_shape)
    scale = gamma.reshape(-1) / np.sqrt(running_variances + eps)
    layer.kind = "affine"
    layer.attrs.update(mode="conv" if layer.record.startswith("bn_con") else "fc", folded_bn=True)
    layer.params.update(gamma=scale, beta=beta.reshape(-1) - running_means * scale)
    layer.param_count = params.size


def _pool(r: Reader, layer: Layer, version: int) -> None:
    nr, nc, stride_y, stride_x = (r.int() for _ in range(4))
    pad_y, pad_x = (r.int() for _ in range(2)) if version >= 2 else (0, 0)
    # nr == nc == 0 means "pool over the whole image" (avg_pool_everything).
    layer.attrs.update(kernel=(nr, nc), stride=(stride_y, stride_x), padding=(pad_y, pad_x))


def _fc(r: Reader, layer: Layer, version: int) -> None:
    num_outputs = r.int()
    num_inputs = r.int()
    params = r.tensor()
    weights = r.alias_tensor()
    biases = r.alias_tensor()
    has_bias = r.int() == 0  # dlib's fc_bias_mode: FC_HAS_BIAS = 0, FC_NO_BIAS = 1
    for _ in range(4):  # learning-rate and weight-decay multipliers
        r.float()
    if version >= 3:
        has_bias = r.bool() and has_bias  # fc_3: use_bias can switch an FC_HAS_BIAS layer's off
    weight, bias = _split(params, weights, biases if has_bias else (0,))
    # dlib multiplies x (n, inputs) by W (inputs, outputs); torch's Linear wants (outputs, inputs).
    layer.params["weight"] = np.ascontiguousarray(weight.reshape(num_inputs, num_outputs).T)
    if has_bias:
        layer.params["bias"] = bias.reshape(-1)
    layer.attrs.update(num_outputs=num_outputs, num_inputs=num_inputs, has_bias=has_bias)
    layer.param_count = params.size


def _nothing(r: Reader, layer: Layer, version: int) -> None:
    """relu_, add_prev_ and friends carry no data beyond their name."""


def _input_rgb_image_sized(r: Reader, layer: Layer, version: int) -> None:
    mean = tuple(r.float() for _ in range(3))
    nr, nc = r.int(), r.int()
    layer.attrs.update(mean_rgb=mean, size=(nr, nc), scale=1.0 / 256.0)


def _input_rgb_image(r: Reader, layer: Layer, version: int) -> None:
    layer.attrs.update(mean_rgb=tuple(r.float() for _ in range(3)), scale=1.0 / 256.0)


def _loss_metric(r: Reader, layer: Layer, version: int) -> None:
    layer.attrs["margin"] = r.float()
    layer.attrs["distance_threshold"] = r.float() if version >= 2 else 0.6


# record name → (kind, version, parser). A record not listed here is refused by name and offset.
_Parser = Callable[[Reader, Layer, int], None]
_RECORDS: dict[str, tuple[str, int, _Parser]] = {
    "con_4": ("con", 4, _con),
    "con_5": ("con", 5, _con),
    "con_6": ("con", 6, _con),
    "affine_": ("affine", 1, _affine),
    "bn_con": ("bn_con", 1, _bn),
    "bn_con2": ("bn_con", 2, _bn),
    "bn_fc": ("bn_fc", 1, _bn),
    "bn_fc2": ("bn_fc", 2, _bn),
    "relu_": ("relu", 1, _nothing),
    "max_pool_": ("max_pool", 1, _pool),
    "max_pool_2": ("max_pool", 2, _pool),
    "avg_pool_": ("avg_pool", 1, _pool),
    "avg_pool_2": ("avg_pool", 2, _pool),
    "add_prev_": ("add_prev", 1, _nothing),
    "fc_2": ("fc", 2, _fc),
    "fc_3": ("fc", 3, _fc),
    "input_rgb_image_sized": ("input_rgb_image_sized", 1, _input_rgb_image_sized),
    "input_rgb_image": ("input_rgb_image", 1, _input_rgb_image),
    "loss_metric_": ("loss_metric", 1, _loss_metric),
    "loss_metric_2": ("loss_metric", 2, _loss_metric),
}


def read_record(r: Reader) -> Layer:
    """One named layer record: its name string, then the fields that name implies."""
    offset = r.pos
    name = r.string()
    if name not in _RECORDS:
        raise DlibFormatError(f"unknown layer record {name!r} at offset {offset}")
    kind, version, parse = _RECORDS[name]
    layer = Layer(kind=kind, record=name, offset=offset)
    parse(r, layer, version)
    return layer


def _bookkeeping(r: Reader, innermost: bool) -> None:
    """State dlib keeps for training: setup/staleness flags, gradient and output buffers."""
    for _ in range(3):
        r.bool()
    for _ in range(3):
        r.tensor()
    if innermost:
        r.int()  # sample_expansion_factor


def read_network(data: bytes) -> Network:
    r = Reader(data)
    r._version(1, "add_loss_layer")
    loss = read_record(r)
    versions: list[int] = []
    while True:
        start = r.pos
        version = r.int()
        if version not in (_LAYER_VERSION, _TAG_OR_SKIP_VERSION, _INPUT_LAYER_VERSION):
            raise DlibFormatError(f"unexpected layer version {version} at offset {start}")
        versions.append(version)
        if version == _INPUT_LAYER_VERSION:
            break
    input_layer = read_record(r)
    computational: list[Layer] = []
    # Versions were listed outermost first; records come innermost first.
    for index, version in enumerate(reversed(versions)):
        if version == _TAG_OR_SKIP_VERSION:
            continue
        computational.append(read_record(r))
        _bookkeeping(r, innermost=index == 0)
    if not r.at_end():
        raise DlibFormatError(f"{len(r.data) - r.pos} unexpected trailing bytes at offset {r.pos}")

    layers: list[Layer] = []
    records = iter(computational)
    for version in reversed(versions):
        layers.append(Layer(kind="tag_or_skip") if version == 1 else next(records))
    return Network(loss=loss, input=input_layer, layers=layers)


def read_network_file(path: Path) -> Network:
    return read_network(Path(path).read_bytes())

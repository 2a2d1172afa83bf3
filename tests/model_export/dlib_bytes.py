"""Builds dlib-serialized byte streams by hand (after dlib/serialize.h) for the reader tests."""

from __future__ import annotations

import math
import struct


def int_(value: int) -> bytes:
    magnitude = abs(value)
    body = magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "little")
    return bytes([len(body) | (0x80 if value < 0 else 0)]) + body


def float_(value: float) -> bytes:
    if math.isnan(value):
        return int_(0) + int_(32002)
    if math.isinf(value):
        return int_(0) + int_(32000 if value > 0 else 32001)
    mantissa, exponent = math.frexp(value)  # value = m · 2**e with 0.5 ≤ |m| < 1
    return int_(int(mantissa * 2**53)) + int_(exponent - 53)


def bool_(value: bool) -> bytes:
    return b"1" if value else b"0"


def string(value: str) -> bytes:
    return int_(len(value)) + value.encode("ascii")


def tensor(values: list[float], shape: tuple[int, int, int, int]) -> bytes:
    return b"".join(int_(v) for v in (2, *shape)) + struct.pack(f"<{len(values)}f", *values)


def alias_tensor(shape: tuple[int, int, int, int]) -> bytes:
    return b"".join(int_(v) for v in (1, *shape))

"""The one place templates become bytes and back (float32, little-endian).

Kept as a single function pair so optional encryption at rest can be added here without touching
any caller; `model_id` travels along so a blob can be bound to the model that produced it.
"""

from __future__ import annotations

import numpy as np


def encode_template(vec: np.ndarray, *, model_id: str) -> bytes:
    """A unit float32 template → bytes for the `faces.template` column."""
    del model_id  # part of the contract: an encrypting codec binds it as associated data
    return np.ascontiguousarray(vec, dtype="<f4").tobytes()


def decode_template(blob: bytes, *, model_id: str) -> np.ndarray:
    """Bytes from `faces.template` → float32 template (a fresh, writable array)."""
    del model_id
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)

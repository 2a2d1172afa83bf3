"""One entry of the template change log, as the index layer consumes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

ChangeOp = Literal["add", "delete"]


@dataclass(frozen=True, slots=True)
class Change:
    """A face template added to or deleted from a collection, in change-log order.

    `seq` is the monotonic sequence number from the `face_changes` table; `vector` is the unit
    float32 template for "add" and None for "delete".
    """

    seq: int
    collection_id: str
    face_id: int
    op: ChangeOp
    vector: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.op not in ("add", "delete"):
            raise ValueError(f"unknown change op {self.op!r}")
        if self.op == "add" and self.vector is None:
            raise ValueError("an 'add' change needs its vector")

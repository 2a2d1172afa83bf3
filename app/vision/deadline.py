"""A per-call deadline that vision work checks at its checkpoints, so a request that timed out
stops using its worker instead of finishing in the background.

A Python thread cannot be killed; what can be done is to stop at the next checkpoint. The
checkpoints are the decoder's reads (Pillow feeds the decoder in blocks, `decode.py`) and the
start of each pipeline stage. The deadline travels in a context variable set by whoever submits
the work (`app.services.inference.InferenceRunner`); outside such a call there is none.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("facematch_vision_deadline", default=None)


class DeadlineExceeded(Exception):
    """The caller has stopped waiting for this work; nobody reads its result."""


@contextmanager
def deadline_at(when: float) -> Iterator[None]:
    """Run the enclosed block under a deadline on the `time.monotonic()` clock."""
    token = _deadline.set(when)
    try:
        yield
    finally:
        _deadline.reset(token)


def check() -> None:
    """Raise DeadlineExceeded once the current deadline has passed (no-op without one)."""
    when = _deadline.get()
    if when is not None and time.monotonic() > when:
        raise DeadlineExceeded("the caller's deadline passed")

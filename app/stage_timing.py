"""Per-request stage timings (decode, detect, align, embed, search) without any web dependency.

Any layer may wrap a piece of work in `stage_timer("detect")`; the HTTP layer
(`app/api/metrics.py`) opens a `StageRecorder` for each request and turns what was recorded into
Prometheus histograms and a `Server-Timing` header. Outside a request the timer costs one
context-variable read and records nothing.

The recorder travels in a context variable, so work handed to a thread pool must run in a copy of
the caller's context to be counted: `asyncio.to_thread` and Starlette's `run_in_threadpool` do this;
with a bare executor use `loop.run_in_executor(pool, contextvars.copy_context().run, fn, *args)`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

STAGES = ("decode", "detect", "align", "embed", "search")


class StageRecorder:
    """The stages timed during one request, in the order they finished (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[tuple[str, float]] = []

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self._records.append((stage, seconds))

    @property
    def records(self) -> list[tuple[str, float]]:
        with self._lock:
            return list(self._records)

    def totals(self) -> dict[str, float]:
        """Seconds per stage summed over the request (a batch enroll runs `detect` many times)."""
        totals: dict[str, float] = {}
        for stage, seconds in self.records:
            totals[stage] = totals.get(stage, 0.0) + seconds
        return totals


_recorder: ContextVar[StageRecorder | None] = ContextVar("facematch_stage_recorder", default=None)


@contextmanager
def recording() -> Iterator[StageRecorder]:
    """Collect every `stage_timer` that runs in this context (and copies of it) until exit."""
    recorder = StageRecorder()
    token = _recorder.set(recorder)
    try:
        yield recorder
    finally:
        _recorder.reset(token)


def current_totals() -> dict[str, float]:
    """Seconds per stage recorded so far in this request (empty outside one)."""
    recorder = _recorder.get()
    return recorder.totals() if recorder is not None else {}


@contextmanager
def stage_timer(stage: str) -> Iterator[None]:
    """Time the enclosed block as `stage` for the current request, if one is being recorded."""
    recorder = _recorder.get()
    if recorder is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        recorder.add(stage, time.perf_counter() - start)

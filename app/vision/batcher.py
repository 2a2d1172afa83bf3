"""Faces from concurrent requests embedded together: one worker thread, one run per batch.

Requests run the pipeline in parallel pool threads; each hands its aligned chips to `EmbedBatcher`
and blocks on a future. The worker takes the first waiting request, waits at most `window_s` for
more to arrive (stopping early once `max_batch` chips are collected), embeds them all in one
session run and hands each request its own rows. A request is never split across batches, so one
photo with more than `max_batch` faces is embedded alone in one run.

After `close()` the worker has finished every request queued before it, and later calls embed in
the caller's thread: a request still in flight during shutdown completes instead of failing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)

EmbedFn = Callable[[np.ndarray], np.ndarray]


@dataclass(slots=True)
class _Job:
    chips: np.ndarray
    result: Future[np.ndarray] = field(default_factory=Future)


class EmbedBatcher:
    """Thread-safe; `embed` has the same contract as the wrapped function."""

    def __init__(self, embed: EmbedFn, *, window_s: float, max_batch: int = 32) -> None:
        if window_s < 0:
            raise ValueError("window_s must be >= 0")
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self._embed = embed
        self.window_s = window_s
        self.max_batch = max_batch
        self._jobs: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._closed = False
        # Written by the worker only: how much batching actually happens (benchmarks, logs).
        self.runs = 0
        self.chips_embedded = 0
        self._worker = threading.Thread(target=self._run, name="embed-batcher", daemon=True)
        self._worker.start()

    @property
    def running(self) -> bool:
        return self._worker.is_alive()

    def embed(self, chips: np.ndarray) -> np.ndarray:
        """(n, H, W, 3) chips → (n, dim) templates, embedded with whatever else is waiting."""
        if len(chips) == 0:
            return self._embed(chips)
        job = _Job(chips)
        with self._cond:
            closed = self._closed
            if not closed:
                self._jobs.append(job)
                self._cond.notify()
        if closed:
            return self._embed(chips)
        return job.result.result()

    def close(self) -> None:
        """Finish what is queued, stop the worker; idempotent."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._worker.join()

    def __enter__(self) -> EmbedBatcher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- worker -------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while (batch := self._next_batch()) is not None:
                self._process(batch)
        finally:
            # Reached only on close, unless the thread itself is dying: then no caller may block
            # forever on a queue nobody serves, and later calls embed in their own thread.
            with self._cond:
                self._closed = True
                orphans = list(self._jobs)
                self._jobs.clear()
            for job in orphans:
                job.result.set_exception(RuntimeError("embedding batcher stopped"))

    def _next_batch(self) -> list[_Job] | None:
        """The jobs for the next run; None once closed with nothing left to do."""
        with self._cond:
            while not self._jobs:
                if self._closed:
                    return None
                self._cond.wait()
            # Gather for at most the window after the first job arrived; no window once closing,
            # since nothing new will come.
            deadline = time.monotonic() + self.window_s
            while not self._closed and self._queued_chips() < self.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch = [self._jobs.popleft()]
            count = len(batch[0].chips)
            while self._jobs and count + len(self._jobs[0].chips) <= self.max_batch:
                job = self._jobs.popleft()
                batch.append(job)
                count += len(job.chips)
            return batch

    def _queued_chips(self) -> int:
        return sum(len(j.chips) for j in self._jobs)

    def _process(self, batch: list[_Job]) -> None:
        try:
            chips = batch[0].chips if len(batch) == 1 else np.concatenate([j.chips for j in batch])
            templates = self._embed(chips)
            if len(templates) != len(chips):
                raise RuntimeError(
                    f"embedder returned {len(templates)} rows for {len(chips)} chips"
                )
        except Exception as exc:
            if len(batch) > 1:
                # One request's bad chips must not fail its neighbours: retry each on its own.
                log.warning(
                    "batched embedding failed (%s); retrying its %d requests", exc, len(batch)
                )
                for job in batch:
                    self._process([job])
            else:
                batch[0].result.set_exception(exc)
            return
        self.runs += 1
        self.chips_embedded += len(chips)
        start = 0
        for job in batch:
            end = start + len(job.chips)
            job.result.set_result(templates[start:end])
            start = end

"""Runs vision work in a bounded thread pool with a deadline, off the event loop.

onnxruntime releases the GIL, so a small pool gives real parallelism while bounding how many photos
are decoded and embedded at once (memory stays predictable under load).

Each call runs in a copy of the submitting context, so the request's stage recorder
(`app.stage_timing`) sees the timings taken inside the pool's threads, and under the request's
deadline (`app.vision.deadline`): when the caller gives up, the worker stops at the next
checkpoint (the decoder's next input block, the next pipeline stage) instead of finishing work
nobody reads, so a timed-out request does not keep its worker.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from time import monotonic
from typing import TypeVar

from app.services.errors import InferenceTimeout
from app.vision import deadline as vision_deadline

T = TypeVar("T")


class InferenceRunner:
    def __init__(self, *, workers: int, timeout_s: float) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inference")
        self.timeout_s = timeout_s

    def run(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        return self.run_many([lambda: fn(*args, **kwargs)])[0]

    def run_many(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """Run several calls concurrently; one deadline covers them all. Exceptions propagate."""
        deadline = monotonic() + self.timeout_s
        futures: list[Future[T]] = [
            self._pool.submit(contextvars.copy_context().run, _until, deadline, call)
            for call in calls
        ]
        try:
            return [f.result(timeout=max(0.0, deadline - monotonic())) for f in futures]
        except (FutureTimeout, vision_deadline.DeadlineExceeded) as exc:
            # Either the wait ran out, or the work itself noticed the deadline first.
            for f in futures:
                f.cancel()  # queued work is dropped; running work stops at a checkpoint
            raise InferenceTimeout(
                f"face analysis took longer than {self.timeout_s:g} s; try again later"
            ) from exc

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _until(deadline: float, call: Callable[[], T]) -> T:
    with vision_deadline.deadline_at(deadline):
        vision_deadline.check()  # waited in the queue past the deadline: do not start
        return call()

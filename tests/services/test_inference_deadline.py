"""A request that timed out must not keep its inference worker (issue 11, finding 1)."""

from __future__ import annotations

import time

import pytest

from app.services.errors import InferenceTimeout
from app.services.inference import InferenceRunner
from app.vision import deadline


def test_timed_out_work_stops_at_its_next_checkpoint_and_frees_the_worker() -> None:
    runner = InferenceRunner(workers=1, timeout_s=0.5)
    checkpoints = 0

    def endless() -> None:
        nonlocal checkpoints
        while True:
            deadline.check()
            checkpoints += 1
            time.sleep(0.01)

    try:
        with pytest.raises(InferenceTimeout):
            runner.run(endless)
        # The only worker is free again: the next call is served within its own deadline.
        assert runner.run(lambda: 42) == 42
        assert checkpoints > 0
    finally:
        runner.shutdown()


def test_work_that_waited_past_its_deadline_in_the_queue_never_starts() -> None:
    runner = InferenceRunner(workers=1, timeout_s=0.2)
    started: list[str] = []
    try:
        blocker = runner._pool.submit(time.sleep, 0.5)  # the worker is busy
        with pytest.raises(InferenceTimeout):
            runner.run(lambda: started.append("late"))
        blocker.result()
        time.sleep(0.05)
        assert started == []
    finally:
        runner.shutdown()

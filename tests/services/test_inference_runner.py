"""InferenceRunner: work handed to its thread pool still belongs to the request that sent it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.services.inference import InferenceRunner
from app.stage_timing import recording, stage_timer


@pytest.fixture
def runner() -> Iterator[InferenceRunner]:
    runner = InferenceRunner(workers=2, timeout_s=30.0)
    yield runner
    runner.shutdown()


def _timed(stage: str) -> str:
    with stage_timer(stage):
        return stage


def test_stage_timings_taken_in_the_pool_reach_the_callers_recorder(
    runner: InferenceRunner,
) -> None:
    with recording() as recorder:
        runner.run(_timed, "detect")
    assert [stage for stage, _ in recorder.records] == ["detect"]


def test_every_call_of_a_batch_records_into_the_same_request(runner: InferenceRunner) -> None:
    with recording() as recorder:
        results = runner.run_many([lambda: _timed("decode"), lambda: _timed("embed")])
    assert results == ["decode", "embed"]
    assert sorted(stage for stage, _ in recorder.records) == ["decode", "embed"]


def test_work_outside_a_request_records_nowhere(runner: InferenceRunner) -> None:
    with recording() as recorder:
        pass
    runner.run(_timed, "detect")
    assert recorder.records == []

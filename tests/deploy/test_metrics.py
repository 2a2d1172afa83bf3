"""`install_observability`: Prometheus metrics, stage timings, request ids and JSON logs, on a tiny
FastAPI app so these tests depend on nothing but the module itself."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.api.metrics import (
    REQUEST_ID_HEADER,
    JsonLogFormatter,
    Observability,
    install_observability,
)
from app.stage_timing import stage_timer


def _blocking_pipeline() -> None:
    with stage_timer("detect"):
        pass
    with stage_timer("embed"):
        pass


def _tiny_app() -> tuple[FastAPI, Observability]:
    app = FastAPI()
    obs = install_observability(app, json_logs=False)

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        if item_id == 404:
            raise HTTPException(status_code=404)
        return {"id": item_id}

    @app.post("/analyze")
    async def analyze() -> dict[str, bool]:
        # The way services run ONNX work: in a worker thread that copies the request's context.
        await asyncio.to_thread(_blocking_pipeline)
        return {"ok": True}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("unhandled")

    return app, obs


@pytest.fixture
def served() -> Iterator[tuple[TestClient, Observability]]:
    app, obs = _tiny_app()
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, obs


def _samples(client: TestClient, name: str) -> list[tuple[dict[str, str], float]]:
    text = client.get("/metrics").text
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def _value(client: TestClient, name: str, **labels: str) -> float | None:
    for sample_labels, value in _samples(client, name):
        if all(sample_labels.get(k) == v for k, v in labels.items()):
            return value
    return None


def test_metrics_endpoint_serves_the_prometheus_text_format(served) -> None:
    client, _ = served
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE facematch_http_requests_total counter" in response.text


def test_requests_are_counted_by_route_template_and_status(served) -> None:
    client, _ = served
    client.get("/items/1")
    client.get("/items/2")
    client.get("/items/404")
    ok = _value(client, "facematch_http_requests_total", route="/items/{item_id}", status="200")
    missing = _value(
        client, "facematch_http_requests_total", route="/items/{item_id}", status="404"
    )
    assert (ok, missing) == (2.0, 1.0)


def test_unknown_paths_share_one_route_label(served) -> None:
    client, _ = served
    client.get("/no/such/path")
    client.get("/another/unknown")
    assert _value(client, "facematch_http_requests_total", route="<unmatched>", status="404") == 2


def test_unhandled_errors_are_counted_as_500(served) -> None:
    client, _ = served
    assert client.get("/boom").status_code == 500
    assert _value(client, "facematch_http_requests_total", route="/boom", status="500") == 1


def test_latency_histogram_observes_each_request(served) -> None:
    client, _ = served
    client.get("/items/7")
    count = _value(
        client, "facematch_http_request_duration_seconds_count", route="/items/{item_id}"
    )
    assert count == 1


def test_stage_timings_from_worker_threads_are_recorded_per_route(served) -> None:
    client, _ = served
    client.post("/analyze")
    for stage in ("detect", "embed"):
        count = _value(
            client, "facematch_stage_duration_seconds_count", stage=stage, route="/analyze"
        )
        assert count == 1, stage


def test_stage_timings_are_returned_in_server_timing(served) -> None:
    client, _ = served
    header = client.post("/analyze").headers["server-timing"]
    assert [part.split(";")[0] for part in header.split(", ")] == ["detect", "embed"]


def test_stage_timer_outside_a_request_records_nothing() -> None:
    with stage_timer("detect"):
        pass  # no recorder in this context: must neither fail nor leak into a later request


def test_faces_per_collection_come_from_the_registered_source(served) -> None:
    client, obs = served
    obs.set_face_counts(lambda: {"c1": 3, "c2": 0})
    faces = dict(
        (labels["collection_id"], value)
        for labels, value in _samples(client, "facematch_collection_faces")
    )
    assert faces == {"c1": 3.0, "c2": 0.0}


def test_a_failing_face_count_source_does_not_break_the_scrape(served) -> None:
    client, obs = served

    def broken() -> dict[str, int]:
        raise RuntimeError("index rebuilding")

    obs.set_face_counts(broken)
    assert client.get("/metrics").status_code == 200


def test_model_info_is_exported_as_labels(served) -> None:
    client, obs = served
    obs.set_model_info(model_id="dlib-resnet-v1@abcd1234", embedding_dim=128)
    samples = _samples(client, "facematch_model_info")
    assert samples == [({"model_id": "dlib-resnet-v1@abcd1234", "embedding_dim": "128"}, 1.0)]


def test_two_apps_do_not_share_counters() -> None:
    first, _ = _tiny_app()
    second, _ = _tiny_app()
    with TestClient(first) as a, TestClient(second) as b:
        a.get("/items/1")
        assert _value(b, "facematch_http_requests_total", route="/items/{item_id}") is None


def test_a_plain_request_id_is_echoed(served) -> None:
    client, _ = served
    response = client.get("/items/1", headers={REQUEST_ID_HEADER: "trace-42.a:b"})
    assert response.headers[REQUEST_ID_HEADER] == "trace-42.a:b"


def test_a_request_id_is_generated_when_none_is_sent(served) -> None:
    client, _ = served
    first = client.get("/items/1").headers[REQUEST_ID_HEADER]
    second = client.get("/items/1").headers[REQUEST_ID_HEADER]
    assert len(first) == 32 and first != second


def test_a_hostile_request_id_is_replaced(served) -> None:
    client, _ = served
    hostile = "x" * 129
    response = client.get("/items/1", headers={REQUEST_ID_HEADER: hostile})
    assert response.headers[REQUEST_ID_HEADER] != hostile
    assert len(response.headers[REQUEST_ID_HEADER]) == 32


def test_access_log_is_one_json_line_with_the_request_id(served) -> None:
    client, _ = served
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    logger = logging.getLogger("facematch.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        client.get("/items/5", headers={REQUEST_ID_HEADER: "abc123"})
    finally:
        logger.removeHandler(handler)
    entry = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert entry["request_id"] == "abc123"
    assert (entry["route"], entry["status"], entry["method"]) == ("/items/{item_id}", 200, "GET")


def test_metrics_route_is_documented_with_a_stable_operation_id(served) -> None:
    client, _ = served
    operation = client.get("/openapi.json").json()["paths"]["/metrics"]["get"]
    assert operation["operationId"] == "metrics-get"
    assert "text/plain" in operation["responses"]["200"]["content"]

"""Every hostile request in the corpus gets its documented answer, and the service stays healthy.

Errors must be RFC 9457 problems with the expected status and `code`; odd-but-legal photos must be
decoded and their face found where the upright photo has it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.attack.corpus import HostileRequest, chunks, corpus, upright_jpeg
from tests.helpers import ADMIN_KEY, add_identity, assert_problem, create_collection

CORPUS = corpus()


@pytest.fixture(scope="module")
def ids(service: TestClient) -> dict[str, str]:
    collection_id = create_collection(service, "hostile-inputs")
    return {
        "collection_id": collection_id,
        "identity_id": add_identity(service, collection_id, external_id="target")["id"],
    }


@pytest.fixture(scope="module")
def upright_box(service: TestClient) -> dict[str, float]:
    response = service.post(
        "/v1/detect", files={"image": ("upright.jpg", upright_jpeg(), "image/jpeg")}
    )
    assert response.status_code == 200, response.text
    [face] = response.json()["faces"]
    return face["box"]


def _send(client: TestClient, item: HostileRequest, ids: dict[str, str]) -> Any:
    headers = dict(item.extra_headers)
    if item.auth == "none":
        headers["X-API-Key"] = ""
    elif item.auth == "bogus":
        headers["X-API-Key"] = "fm_000000000000_" + "A" * 43
    else:
        headers["X-API-Key"] = ADMIN_KEY
    if item.content_type is not None:
        headers["Content-Type"] = item.content_type
    kwargs: dict[str, Any] = {"headers": headers, "params": list(item.query)}
    if item.files:
        kwargs["files"] = list(item.files)
    elif item.content is not None:
        kwargs["content"] = chunks(item.content) if item.chunked else item.content
    return client.request(item.method, item.url(ids), **kwargs)


def _iou(a: dict[str, float], b: dict[str, float]) -> float:
    left, top = max(a["x"], b["x"]), max(a["y"], b["y"])
    right = min(a["x"] + a["width"], b["x"] + b["width"])
    bottom = min(a["y"] + a["height"], b["y"] + b["height"])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = a["width"] * a["height"] + b["width"] * b["height"] - inter
    return inter / union if union > 0 else 0.0


def test_corpus_has_at_least_twenty_kinds_of_hostile_request() -> None:
    refused = [item for item in CORPUS if item.expected.status >= 400]
    assert len(CORPUS) >= 20 and len(refused) >= 20


@pytest.mark.parametrize("item", CORPUS, ids=[item.kind for item in CORPUS])
def test_hostile_request_gets_its_documented_answer(
    service: TestClient, ids: dict[str, str], upright_box: dict[str, float], item: HostileRequest
) -> None:
    response = _send(service, item, ids)
    expected = item.expected
    if expected.code is not None:
        assert_problem(response, expected.status, expected.code)
    else:
        assert response.status_code == expected.status, response.text[:500]
        body = response.json()
        if expected.faces is not None:
            assert len(body["faces"]) == expected.faces, body
        if expected.same_box_as_upright:
            assert _iou(body["faces"][0]["box"], upright_box) > 0.8, (body, upright_box)
        for name in expected.echo:
            sent = _sent_json(item)[name]
            assert body[name] == sent
            fetched = service.get(
                f"/v1/collections/{ids['collection_id']}/identities/{body['id']}"
            ).json()
            assert fetched[name] == sent


def _sent_json(item: HostileRequest) -> dict[str, Any]:
    assert item.content is not None
    return json.loads(item.content)


def test_service_stays_healthy_after_the_whole_corpus(
    service: TestClient, ids: dict[str, str]
) -> None:
    for item in CORPUS:
        _send(service, item, ids)
        assert service.get("/healthz").status_code == 200, item.kind
    ready = service.get("/readyz")
    assert ready.status_code == 200, ready.text
    detected = service.post(
        "/v1/detect", files={"image": ("upright.jpg", upright_jpeg(), "image/jpeg")}
    )
    assert detected.status_code == 200 and len(detected.json()["faces"]) == 1

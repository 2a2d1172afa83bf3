"""What the console needs from /v1: the calling key's scope, and the FAR calibration table."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.vision.calibration import FarCalibration
from tests.helpers import ADMIN


def test_keys_me_reports_the_admin_key(client: TestClient) -> None:
    response = client.get("/v1/keys/me", headers=ADMIN)
    assert response.status_code == 200
    assert response.json() == {"key_id": None, "role": "admin", "collection_id": None}


def test_keys_me_reports_a_scoped_key_without_its_secret(
    client: TestClient, collection: dict
) -> None:
    created = client.post(
        "/v1/keys",
        json={"collection_id": collection["id"], "role": "enroll", "name": "door"},
        headers=ADMIN,
    ).json()
    me = client.get("/v1/keys/me", headers={"X-API-Key": created["key"]}).json()
    assert me == {"key_id": created["id"], "role": "enroll", "collection_id": collection["id"]}
    client.delete(f"/v1/keys/{created['id']}", headers=ADMIN)
    revoked = client.get("/v1/keys/me", headers={"X-API-Key": created["key"]})
    assert revoked.status_code == 401


def test_keys_me_needs_a_key(client: TestClient) -> None:
    assert client.get("/v1/keys/me").status_code == 401


def test_models_carry_the_calibration_table_and_far_at_the_threshold(
    client: TestClient,
) -> None:
    model = client.get("/v1/models", headers=ADMIN).json()["models"][0]
    table = FarCalibration.load()
    calibration = model["calibration"]
    assert calibration["impostor_pairs"] == table.impostor_pairs
    points = calibration["points"]
    assert len(points) == len(table.similarities)
    sims = [p["similarity"] for p in points]
    fars = [p["far"] for p in points]
    assert sims == sorted(sims) and fars == sorted(fars, reverse=True)
    # The default threshold was chosen at FAR 1e-3; the answer says so (3 significant digits).
    assert model["threshold"] == model["default_threshold"]
    assert abs(model["estimated_far"] - table.default_far) / table.default_far < 0.01

"""What the service adds on top of the vision pipeline for one identify.

Interleaves `POST /v1/collections/{id}/identify` through the real app (TestClient, SQLite, two
enrolled people) with `pipeline.analyze` on the same photo, so both see the same machine load;
the difference is upload parsing, auth, SQL catch-up, search, owner lookup and the audit row.

Run: .venv/bin/python bench/service_overhead.py [rounds]   (needs models/)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.vision.pipeline import VisionPipeline

PHOTOS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "photos"
KEY = "bench-admin-key-0123456789"


def main(rounds: int = 15) -> None:
    pipeline = VisionPipeline.load(Path("models"))
    probe = (PHOTOS / "obama" / "obama3.jpg").read_bytes()
    headers = {"X-API-Key": KEY}
    settings = Settings(_env_file=None, data_dir=tempfile.mkdtemp(), admin_api_key=KEY)  # type: ignore[call-arg]
    with TestClient(create_app(settings, pipeline=pipeline, json_logs=False)) as client:
        cid = client.post("/v1/collections", json={"name": "bench"}, headers=headers).json()["id"]
        for name in ("obama", "biden"):
            iid = client.post(
                f"/v1/collections/{cid}/identities", json={"external_id": name}, headers=headers
            ).json()["id"]
            photo = (PHOTOS / name / f"{name}.jpg").read_bytes()
            client.post(
                f"/v1/collections/{cid}/identities/{iid}/faces",
                files={"image": ("a.jpg", photo)},
                headers=headers,
            )
        http, direct = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            pipeline.analyze(probe)
            direct.append(time.perf_counter() - start)
            start = time.perf_counter()
            response = client.post(
                f"/v1/collections/{cid}/identify",
                files={"image": ("o.jpg", probe)},
                headers=headers,
            )
            http.append(time.perf_counter() - start)
            assert response.json()["faces"][0]["match"]["external_id"] == "obama"
    h, d = statistics.median(http) * 1000, statistics.median(direct) * 1000
    print(
        f"identify over HTTP p50 {h:.1f} ms; pipeline.analyze alone p50 {d:.1f} ms; "
        f"service overhead {h - d:.1f} ms ({h / d:.3f}x), {rounds} rounds"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)

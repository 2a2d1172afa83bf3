"""Drive every v1 endpoint once on a throw-away SQLite database; print request → real response.

Real models and photos. The output is docs/api-examples.md:
    .venv/bin/python scripts/api_examples.py > docs/api-examples.md
"""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from app.vision.pipeline import VisionPipeline

PHOTOS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "photos"
KEY = "ADMIN_KEY_FROM_SETTINGS"
H = {"X-API-Key": KEY}


def photo(name: str) -> bytes:
    return (PHOTOS / name).read_bytes()


def show(label: str, response: httpx.Response, sent: str = "") -> None:
    url = response.request.url
    query = f"?{url.query.decode()}" if url.query else ""
    body = json.dumps(response.json(), indent=None) if response.content else "(no body)"
    print(f"### {label}\n```\n{response.request.method} {url.path}{query} {sent}".rstrip())
    print(f"→ {response.status_code} {body}\n```\n")


def main() -> None:
    settings = Settings(_env_file=None, data_dir=tempfile.mkdtemp(), admin_api_key=KEY)  # type: ignore[call-arg]
    app = create_app(settings, pipeline=VisionPipeline.load(Path("models")), json_logs=False)
    print("# API examples (real output of scripts/api_examples.py)\n")
    with TestClient(app) as c:
        show("liveness", c.get("/healthz"))
        show("readiness", c.get("/readyz"))
        show("models", c.get("/v1/models", headers=H))
        r = c.post("/v1/collections", json={"name": "staff"}, headers=H)
        show("create a collection", r, '{"name": "staff"}')
        cid = r.json()["id"]
        show("list collections", c.get("/v1/collections", params={"limit": 10}, headers=H))
        base = f"/v1/collections/{cid}"
        body = {"external_id": "obama", "display_name": "Barack Obama", "metadata": {"team": "x"}}
        r = c.post(f"{base}/identities", json=body, headers=H)
        show("create an identity", r, json.dumps(body))
        obama = r.json()["id"]
        biden = c.post(f"{base}/identities", json={"external_id": "biden"}, headers=H).json()["id"]
        files = [("image", (n, photo(f"obama/{n}"))) for n in ("obama.jpg", "obama1.jpg")]
        files.append(("image", ("dog.jpg", photo("nonface/dlib__dog.jpg"))))
        r = c.post(f"{base}/identities/{obama}/faces", files=files, headers=H)
        show("enroll (multipart: two photos of obama and a dog)", r, "image=@obama.jpg …")
        b64 = {"image": base64.b64encode(photo("biden/biden.jpg")).decode()}
        r = c.post(f"{base}/identities/{biden}/faces", json=b64, headers=H)
        show("enroll (JSON base64)", r, '{"image": "<base64>"}')
        show(
            "list identities",
            c.get(f"{base}/identities", params={"external_id": "obama"}, headers=H),
        )
        show("get an identity", c.get(f"{base}/identities/{obama}", headers=H))
        patch = {"display_name": "President Obama"}
        show(
            "update an identity",
            c.patch(f"{base}/identities/{obama}", json=patch, headers=H),
            json.dumps(patch),
        )
        r = c.get(f"{base}/identities/{obama}/faces", headers=H)
        show("list faces", r)
        face_id = r.json()["items"][0]["id"]
        probe = {"image": ("obama3.jpg", photo("obama/obama3.jpg"))}
        show(
            "identify",
            c.post(f"{base}/identify", files=probe, params={"top_k": 2}, headers=H),
            "image=@obama3.jpg",
        )
        strangers = {"image": ("g.jpg", photo("multiface/dlib__2008_001322.jpg"))}
        show(
            "identify someone never enrolled",
            c.post(f"{base}/identify", files=strangers, params={"faces": "largest"}, headers=H),
            "image=@group.jpg",
        )
        pair = {
            "image_a": ("a.jpg", photo("obama/obama1.jpg")),
            "image_b": ("b.jpg", photo("biden/biden.jpg")),
        }
        show(
            "verify two photos",
            c.post("/v1/verify", files=pair, headers=H),
            "image_a=@obama1.jpg image_b=@biden.jpg",
        )
        show(
            "verify against an identity",
            c.post(f"{base}/identities/{obama}/verify", files=probe, headers=H),
            "image=@obama3.jpg",
        )
        two = {"image": ("t.jpg", photo("multiface/face_recognition__obama_and_biden.jpg"))}
        show(
            "detect",
            c.post("/v1/detect", files=two, params={"max_faces": 2}, headers=H),
            "image=@obama_and_biden.jpg",
        )
        key_body = {"collection_id": cid, "role": "identify", "name": "front door"}
        r = c.post("/v1/keys", json=key_body, headers=H)
        show("create a scoped key", r, json.dumps(key_body))
        key_id, key = r.json()["id"], r.json()["key"]
        show("list keys", c.get("/v1/keys", headers=H))
        show(
            "role too weak", c.post(f"{base}/identities", json={}, headers={"X-API-Key": key}), "{}"
        )
        show("revoke a key", c.delete(f"/v1/keys/{key_id}", headers=H))
        show("no key", c.get("/v1/collections"))
        show("delete a face", c.delete(f"{base}/identities/{obama}/faces/{face_id}", headers=H))
        show("delete an identity", c.delete(f"{base}/identities/{biden}", headers=H))
        show("get a collection", c.get(base, headers=H))
        show("audit trail", c.get("/v1/audit-events", params={"limit": 2}, headers=H))
        show("delete a collection", c.delete(base, headers=H))
        show("not found", c.get(base, headers=H))


if __name__ == "__main__":
    main()

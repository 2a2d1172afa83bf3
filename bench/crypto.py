"""What encrypting templates at rest costs: per template, per enroll, per identify, per rebuild.

Everything is measured side by side in one run — plain and AES-GCM in alternating rounds — so a
busy machine slows both alike and the difference stays honest. Two levels:

1. codec: encode / decode one 128-D template, plain vs sealed (median over rounds of a batch);
2. service: the real app in-process (real ONNX models, SQLite in a temp dir): one app with a key,
   one without, and a second one without as a control (plain vs control = this run's noise floor);
   the same photos enrolled and identified through HTTP, requests rotating between the apps; wall
   and process CPU time. Needs `models/` (skipped with a note otherwise).

    .venv/bin/python bench/crypto.py [--templates 5000] [--rounds 7] [--requests 12]

Writes bench/results/crypto.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.db.template_codec import (  # noqa: E402
    TemplateKeyring,
    decode_template,
    encode_template,
    generate_key,
    parse_key,
)
from app.settings import Settings  # noqa: E402

MODEL = "dlib-resnet-v1@bench"
LABELS = ("plain", "sealed", "control")
PHOTOS = REPO / "tests" / "fixtures" / "photos"


def _median_us_per_item(runs: list[float], items: int) -> float:
    return statistics.median(runs) / items * 1e6


def bench_codec(templates: int, rounds: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((templates, 128)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    keyring = TemplateKeyring({"bench": parse_key(generate_key())}, "bench")
    plain_blobs = [encode_template(v, model_id=MODEL) for v in vecs]
    sealed_blobs = [encode_template(v, model_id=MODEL, keyring=keyring) for v in vecs]

    cases: dict[str, Callable[[], object]] = {
        "encode_plain": lambda: [encode_template(v, model_id=MODEL) for v in vecs],
        "encode_sealed": lambda: [
            encode_template(v, model_id=MODEL, keyring=keyring) for v in vecs
        ],
        "decode_plain": lambda: [decode_template(b, model_id=MODEL) for b in plain_blobs],
        "decode_sealed": lambda: [
            decode_template(b, model_id=MODEL, keyring=keyring) for b in sealed_blobs
        ],
    }
    timings: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, run in cases.items():  # interleaved: each round times all four back to back
            start = time.perf_counter()
            run()
            timings[name].append(time.perf_counter() - start)
    result = {f"{name}_us": _median_us_per_item(t, templates) for name, t in timings.items()}
    result["seal_overhead_us"] = result["encode_sealed_us"] - result["encode_plain_us"]
    result["open_overhead_us"] = result["decode_sealed_us"] - result["decode_plain_us"]
    result["rebuild_overhead_s_per_million"] = result["open_overhead_us"]  # µs × 1e6 / 1e6
    result["blob_bytes_plain"] = len(plain_blobs[0])
    result["blob_bytes_sealed"] = len(sealed_blobs[0])
    return result


def bench_service(requests: int) -> dict[str, float] | str:
    """Enroll and identify through two in-process apps (plain, encrypted), alternating."""
    models = Path(os.environ.get("FACEMATCH_MODEL_DIR", REPO / "models"))
    if not (models / "manifest.json").is_file():
        return f"skipped: no models in {models} (python -m model_export export)"
    try:
        from app.main import create_app
    except ImportError as exc:
        return f"skipped: the app cannot be imported ({exc})"

    enroll_photo = (PHOTOS / "obama" / "obama1.jpg").read_bytes()
    probe_photo = (PHOTOS / "obama" / "obama2.jpg").read_bytes()
    admin = "bench-admin-key-" + "x" * 24
    timings: dict[str, list[float]] = {
        f"{op}_{label}": [] for op in ("enroll", "identify") for label in LABELS
    }
    # Process CPU time (every thread of this process: ONNX, SQL, AES) is what encryption adds to;
    # unlike wall time it barely moves when other jobs load the machine.
    cpu: dict[str, list[float]] = {name: [] for name in timings}
    with tempfile.TemporaryDirectory(prefix="facematch-crypto-") as tmp:
        clients: dict[str, TestClient] = {}
        collections: dict[str, str] = {}
        # "control" is a second plain app: plain vs control is the noise floor of this run.
        for label, key in (("plain", None), ("sealed", generate_key()), ("control", None)):
            data_dir = Path(tmp) / label
            settings = Settings(
                data_dir=data_dir,
                database_url=f"sqlite:///{data_dir / 'facematch.db'}",
                model_dir=models,
                admin_api_key=admin,
                template_key=key,
                template_key_id="bench",
                rate_limit_per_minute=0,
            )
            client = TestClient(create_app(settings), headers={"X-API-Key": admin})
            clients[label] = client.__enter__()
            created = client.post("/v1/collections", json={"name": f"crypto-{label}"})
            created.raise_for_status()
            collections[label] = created.json()["id"]
        try:
            for n in range(requests):
                for label in LABELS[n % 3 :] + LABELS[: n % 3]:  # rotate who goes first
                    client, cid = clients[label], collections[label]
                    identity = client.post(
                        f"/v1/collections/{cid}/identities", json={"external_id": f"p{n}"}
                    )
                    identity.raise_for_status()
                    iid = identity.json()["id"]
                    # Each identity gets the same photo once (duplicates are per identity).
                    start, start_cpu = time.perf_counter(), time.process_time()
                    enrolled = client.post(
                        f"/v1/collections/{cid}/identities/{iid}/faces",
                        files={"image": ("a.jpg", enroll_photo, "image/jpeg")},
                    )
                    timings[f"enroll_{label}"].append(time.perf_counter() - start)
                    cpu[f"enroll_{label}"].append(time.process_time() - start_cpu)
                    assert enrolled.status_code == 201, enrolled.text
                    start, start_cpu = time.perf_counter(), time.process_time()
                    found = client.post(
                        f"/v1/collections/{cid}/identify",
                        files={"image": ("b.jpg", probe_photo, "image/jpeg")},
                    )
                    timings[f"identify_{label}"].append(time.perf_counter() - start)
                    cpu[f"identify_{label}"].append(time.process_time() - start_cpu)
                    assert found.status_code == 200, found.text
        finally:
            for client in clients.values():
                client.__exit__(None, None, None)
    result = {f"{name}_ms": statistics.median(t) * 1e3 for name, t in timings.items()}
    result.update({f"{name}_cpu_ms": statistics.median(t) * 1e3 for name, t in cpu.items()})
    for op in ("enroll", "identify"):
        for kind in ("", "_cpu"):
            plain, sealed = result[f"{op}_plain{kind}_ms"], result[f"{op}_sealed{kind}_ms"]
            result[f"{op}{kind}_overhead_ms"] = sealed - plain
            result[f"{op}{kind}_ratio"] = sealed / plain
            result[f"{op}{kind}_noise_floor_ms"] = result[f"{op}_control{kind}_ms"] - plain
    result["requests_per_case"] = requests
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--templates", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=12, help="per app and operation")
    parser.add_argument("--skip-service", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "crypto.json")
    args = parser.parse_args()

    codec = bench_codec(args.templates, args.rounds)
    print(f"codec, per 128-D template (median of {args.rounds} rounds × {args.templates}):")
    for op in ("encode", "decode"):
        plain, sealed = codec[f"{op}_plain_us"], codec[f"{op}_sealed_us"]
        print(f"  {op:6s} plain {plain:7.2f} µs   AES-GCM {sealed:7.2f} µs   +{sealed - plain:.2f}")
    print(
        f"  blob {codec['blob_bytes_plain']} → {codec['blob_bytes_sealed']} bytes; index rebuild "
        f"+{codec['rebuild_overhead_s_per_million']:.2f} s per million templates"
    )
    service = "skipped (--skip-service)" if args.skip_service else bench_service(args.requests)
    if isinstance(service, str):
        print(f"service: {service}")
    else:
        print(f"service, median of {args.requests} requests per case (apps rotating):")
        for op in ("enroll", "identify"):
            for kind, name in (("", "wall"), ("_cpu", "CPU ")):
                print(
                    f"  {op:8s} {name} plain {service[f'{op}_plain{kind}_ms']:7.1f} ms   AES-GCM "
                    f"{service[f'{op}_sealed{kind}_ms']:7.1f} ms   overhead "
                    f"{service[f'{op}{kind}_overhead_ms']:+.1f} ms "
                    f"(×{service[f'{op}{kind}_ratio']:.3f}); plain vs plain "
                    f"{service[f'{op}{kind}_noise_floor_ms']:+.1f} ms"
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                "codec": codec,
                "service": service,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

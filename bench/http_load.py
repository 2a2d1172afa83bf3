"""End-to-end identify over HTTP: facematch versus a face_recognition-style baseline, side by side.

    python -m bench.http_load --identities 10000 --concurrency 1 4 16 --json bench/results/http.json

Both services run as real uvicorn processes on this machine, each with a gallery of the same
10,000 synthetic identities (real LFW templates plus drawn ones, see bench/gallery.py; inserted
directly, facematch's into its SQLite database through the same tables the service writes). Both get
the same real photos (../shared/data/photos/identities, re-encoded at most 640 px on the long side,
the size clients usually send) from the same load generator: a fixed number of requests per level,
`concurrency` of them in flight at once. Levels alternate between the two services so drift on a
shared machine hits both alike. Reported: requests/s, p50/p99 latency, resident memory per worker;
plus facematch under several onnxruntime thread settings at one concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa
from PIL import Image

from app.db.migrate import upgrade_to_head
from app.db.models import Collection, Face, FaceChange, Identity
from app.db.template_codec import encode_template
from bench import gallery as galleries

REPO = Path(__file__).resolve().parents[1]
API_KEY = "bench-" + uuid.uuid4().hex
MAX_SIDE = 640


@dataclass(slots=True)
class Level:
    service: str
    concurrency: int
    requests: int
    throughput_rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    rss_mib: float


def photos() -> list[bytes]:
    """Real photos of single people, re-encoded as JPEG at most MAX_SIDE pixels on the long side."""
    folder = galleries.data_dir() / "photos" / "identities"
    out = []
    for path in sorted(folder.glob("*/*")):
        if path.parent.name == "dlib_johns" or not path.is_file():
            continue
        image = Image.open(path).convert("RGB")
        image.thumbnail((MAX_SIDE, MAX_SIDE))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def seed_facematch(url: str, vectors: np.ndarray, model_id: str) -> str:
    """A collection with one face per identity, written straight into the service's tables."""
    upgrade_to_head(url)
    engine = sa.create_engine(url)
    # The ORM's tables (not reflected ones) so ids and JSON are bound as the service binds them.
    tables = {m.__tablename__: m.__table__ for m in (Collection, Identity, Face, FaceChange)}
    now = datetime.now(UTC)
    collection = uuid.uuid4()
    identities = [uuid.uuid4() for _ in range(len(vectors))]
    with engine.begin() as conn:
        conn.execute(
            tables["collections"].insert(),
            [{"id": collection, "name": "bench", "model_id": model_id, "created_at": now}],
        )
        conn.execute(
            tables["identities"].insert(),
            [
                {
                    "id": iid,
                    "collection_id": collection,
                    "external_id": f"person-{i}",
                    "display_name": f"Person {i}",
                    "created_at": now,
                }
                for i, iid in enumerate(identities)
            ],
        )
        conn.execute(
            tables["faces"].insert(),
            [
                {
                    "id": i + 1,
                    "identity_id": iid,
                    "collection_id": collection,
                    "model_id": model_id,
                    "template": encode_template(v, model_id=model_id),
                    "box": {},
                    "quality": {},
                    "content_sha256": f"{i:064x}",
                    "created_at": now,
                }
                for i, (iid, v) in enumerate(zip(identities, vectors, strict=True))
            ],
        )
        conn.execute(
            tables["face_changes"].insert(),
            [
                {
                    "seq": i + 1,
                    "collection_id": collection,
                    "face_id": i + 1,
                    "op": "add",
                    "created_at": now,
                }
                for i in range(len(vectors))
            ],
        )
    engine.dispose()
    return str(collection)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A uvicorn process, started and stopped by the benchmark."""

    def __init__(self, app: str, env: dict[str, str], log_path: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                app,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, path: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode}; see {self._log.name}"
                )
            try:
                if httpx.get(self.base + path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{self.base}{path} not ready after {timeout}s")

    def rss_mib(self) -> float:
        """Resident memory per worker: the worker processes' mean (the process itself if alone)."""
        pids = _children(self.proc.pid) or [self.proc.pid]
        sizes = [_rss_mib(pid) for pid in pids]
        return float(np.mean(sizes))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    # uvicorn --workers also starts a resource tracker; workers are the ones holding the app.
    return [int(c) for c in text.split() if _rss_mib(int(c)) > 50]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _load(
    url: str | Iterator[str],
    headers: dict[str, str],
    images: list[bytes],
    concurrency: int,
    requests: int,
) -> tuple[np.ndarray, float, int]:
    """`url`, or the next of several for each request (replicas balanced by the client)."""
    urls = itertools.repeat(url) if isinstance(url, str) else url
    latencies: list[float] = []
    errors = 0
    next_request = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal next_request, errors
        while next_request < requests:
            i = next_request
            next_request += 1
            files = {"image": (f"q{i}.jpg", images[i % len(images)], "image/jpeg")}
            t = time.perf_counter()
            response = await client.post(next(urls), files=files, headers=headers)
            latencies.append((time.perf_counter() - t) * 1000)
            if response.status_code != 200:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        for image in images[:2]:  # warm-up: first-call allocations are not steady state
            await client.post(
                next(urls), files={"image": ("w.jpg", image, "image/jpeg")}, headers=headers
            )
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return np.asarray(latencies), requests / elapsed, errors


def measure(
    name: str,
    server: Server,
    url: str,
    headers: dict[str, str],
    images: list[bytes],
    concurrency: int,
    requests: int,
    log,
) -> Level:
    lat, rps, errors = asyncio.run(_load(url, headers, images, concurrency, requests))
    level = Level(
        name,
        concurrency,
        requests,
        rps,
        float(np.percentile(lat, 50)),
        float(np.percentile(lat, 99)),
        errors,
        server.rss_mib(),
    )
    log(
        f"  {name:<24} c={concurrency:<3} {rps:6.2f} req/s  p50 {level.p50_ms:7.1f} ms"
        f"  p99 {level.p99_ms:7.1f} ms  errors {errors}  rss {level.rss_mib:.0f} MiB"
    )
    return level


def _service_name(int8_models: str) -> str:
    return "facematch" if int8_models == "none" else f"facematch int8 {int8_models}"


def facematch_env(work: Path, threads: int, workers: int) -> dict[str, str]:
    return {
        "FACEMATCH_DATA_DIR": str(work),
        "FACEMATCH_DATABASE_URL": f"sqlite:///{work / 'facematch.db'}",
        "FACEMATCH_MODEL_DIR": str(REPO / "models"),
        "FACEMATCH_ADMIN_API_KEY": API_KEY,
        "FACEMATCH_INFERENCE_THREADS": str(threads),
        "FACEMATCH_INFERENCE_WORKERS": str(workers),
        "FACEMATCH_RATE_LIMIT_PER_MINUTE": "0",
    }


def run(
    identities: int,
    levels: list[int],
    requests: int,
    baseline_requests: int,
    thread_variants: list[tuple[int, int]],
    thread_concurrency: int,
    log=print,
    int8_variants: tuple[str, ...] = ("none",),
    gallery_images: int = 3600,
) -> dict:
    images = photos()
    templates, labels = galleries.lfw_templates(gallery_images, log=log)
    vectors = galleries.synthetic(identities, templates, labels, per_identity=1, seed=11).vectors
    manifest = json.loads((REPO / "models" / "manifest.json").read_text())
    model_id = manifest["models"]["embedder"]["model_id"]
    results: dict[str, list[dict]] = {"levels": [], "threads": []}
    with tempfile.TemporaryDirectory(prefix="http-load-", dir=galleries.CACHE) as tmp:
        work = Path(tmp)
        collection = seed_facematch(f"sqlite:///{work / 'facematch.db'}", vectors, model_id)
        np.savez(
            work / "baseline.npz",
            templates=vectors,
            names=np.array([f"person-{i}" for i in range(identities)]),
        )
        headers = {"X-API-Key": API_KEY}
        fm_url_path = f"/v1/collections/{collection}/identify"

        # One facematch server per int8 setting (FACEMATCH_INT8_MODELS), all up at once and
        # measured level by level beside the baseline, so their ratios share the machine's load.
        servers = {
            _service_name(v): Server(
                "app.main:app",
                {**facematch_env(work, 2, 2), "FACEMATCH_INT8_MODELS": v},
                work / f"facematch-int8-{v}.log",
            )
            for v in int8_variants
        }
        base = Server(
            "bench.baseline.app:app",
            {"BASELINE_GALLERY": str(work / "baseline.npz")},
            work / "baseline.log",
        )
        try:
            for fm in servers.values():
                fm.wait_ready("/readyz")
            base.wait_ready("/healthz")
            log(f"servers ready; {len(images)} photos, gallery {identities:,} identities")
            for c in levels:
                for name, fm in servers.items():
                    results["levels"].append(
                        asdict(
                            measure(
                                name,
                                fm,
                                fm.base + fm_url_path,
                                headers,
                                images,
                                c,
                                requests,
                                log,
                            )
                        )
                    )
                results["levels"].append(
                    asdict(
                        measure(
                            "baseline",
                            base,
                            base.base + "/identify",
                            {},
                            images,
                            c,
                            baseline_requests,
                            log,
                        )
                    )
                )
        finally:
            for fm in servers.values():
                fm.stop()
            base.stop()
        for threads, workers in thread_variants:
            server = Server(
                "app.main:app",
                facematch_env(work, threads, workers),
                work / f"facematch-{threads}x{workers}.log",
            )
            try:
                server.wait_ready("/readyz")
                level = measure(
                    f"facematch {threads} thr x {workers} wkr",
                    server,
                    server.base + fm_url_path,
                    headers,
                    images,
                    thread_concurrency,
                    requests,
                    log,
                )
                results["threads"].append(
                    {"intra_op_threads": threads, "pool_workers": workers, **asdict(level)}
                )
            finally:
                server.stop()
    return results


def markdown(results: dict) -> str:
    rows = results["levels"]
    lines = [
        "| concurrency | service | req/s | p50 ms | p99 ms | p99/p50 | errors | RSS MiB/worker |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['concurrency']} | {r['service']} | {r['throughput_rps']:.2f} "
            f"| {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['p99_ms'] / r['p50_ms']:.2f} "
            f"| {r['errors']} | {r['rss_mib']:.0f} |"
        )
    by = {(r["service"], r["concurrency"]): r for r in rows}
    lines += ["", "| concurrency | service | throughput / baseline |", "|---:|---|---:|"]
    services = [s for s in dict.fromkeys(r["service"] for r in rows) if s != "baseline"]
    for c in sorted({r["concurrency"] for r in rows}):
        base = by.get(("baseline", c))
        for name in services:
            fm = by.get((name, c))
            if fm and base:
                ratio = fm["throughput_rps"] / base["throughput_rps"]
                lines.append(f"| {c} | {name} | {ratio:.2f}× |")
    if results["threads"]:
        lines += [
            "",
            "| onnxruntime intra-op threads × pool workers | concurrency | req/s | "
            "p50 ms | p99 ms |",
            "|---|---:|---:|---:|---:|",
        ]
        for t in results["threads"]:
            lines.append(
                f"| {t['intra_op_threads']} × {t['pool_workers']} | {t['concurrency']} "
                f"| {t['throughput_rps']:.2f} | {t['p50_ms']:.0f} | {t['p99_ms']:.0f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--identities", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=64, help="facematch requests per level")
    parser.add_argument("--baseline-requests", type=int, default=32)
    parser.add_argument(
        "--threads",
        nargs="*",
        default=["1x2", "2x1", "2x2", "1x1"],
        help="facematch onnxruntime threads x pool workers to compare",
    )
    parser.add_argument("--threads-concurrency", type=int, default=4)
    parser.add_argument(
        "--gallery-images",
        type=int,
        default=3600,
        help="real LFW templates the synthetic gallery is fitted on (cached per count)",
    )
    parser.add_argument(
        "--int8",
        nargs="+",
        default=["none"],
        choices=["none", "embedder", "detector", "all"],
        help="FACEMATCH_INT8_MODELS settings to serve side by side",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    variants = [tuple(int(x) for x in v.split("x")) for v in args.threads]
    results = run(
        args.identities,
        args.concurrency,
        args.requests,
        args.baseline_requests,
        variants,
        args.threads_concurrency,
        log=lambda m: print(m, flush=True),
        int8_variants=tuple(args.int8),
        gallery_images=args.gallery_images,
    )
    print(markdown(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()

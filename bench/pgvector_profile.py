"""Where a pgvector search's time goes: the service path against its parts, on a kept database.

    python -m bench.pgvector --sizes 1000000 --keep ...      # builds and keeps the database
    python -m bench.pgvector_profile --size 1000000 \
        --url postgresql+psycopg://postgres@127.0.0.1:PORT/facematch_bench_pgv_1000000_3600

Per query, same queries, same connection, in this order: an empty round trip (`SELECT 1`); the
server's own execution time of the search (`EXPLAIN (ANALYZE)` of the statement the backend sends);
the bare statement through psycopg; and `PgvectorIndex.search` through SQLAlchemy (what a request
runs). The differences are the round trip, the client libraries and the re-rank.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import psycopg
import sqlalchemy as sa

from app.db import vectors
from app.db.engine import create_db_engine, session_factory
from app.services.pgvector_index import PgvectorIndex
from bench import gallery as galleries


def _ms(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": float(np.percentile(samples, 50)),
        "p99_ms": float(np.percentile(samples, 99)),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of a kept bench database")
    parser.add_argument("--size", type=int, required=True, help="templates in that database")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--ef-search", type=int, default=vectors.HnswParams().ef_search)
    parser.add_argument("--lfw-images", type=int, default=3600)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    templates, labels = galleries.lfw_templates(args.lfw_images)
    # The same gallery and queries as bench.pgvector made for this size.
    gal = galleries.synthetic(args.size, templates, labels, seed=args.size)
    queries = galleries.queries(gal, args.queries, seed=args.size + 1)
    del gal
    dsn = sa.make_url(args.url).set(drivername="postgresql").render_as_string(hide_password=False)
    params = vectors.HnswParams(ef_search=args.ef_search)
    engine = create_db_engine(args.url, statement_timeout_ms=0)
    sessions = session_factory(engine, pgvector=params)
    index = PgvectorIndex(sessions, dim=queries.shape[1], params=params)
    with engine.connect() as conn:
        collection = str(conn.scalar(sa.text("SELECT id FROM collections")))
    table = vectors.partition_name(collection)
    count = 5  # k: what the backend asks for (no short list, app/db/vectors.py nearest)
    sql = (
        f"SELECT face_id, -(embedding <#> CAST(%s AS vector)) AS sim FROM {table} "
        f"ORDER BY embedding <=> CAST(%s AS vector) LIMIT {count}"
    )
    out: dict[str, object] = {"ef_search": args.ef_search, "limit": count}
    with psycopg.connect(dsn) as conn:
        conn.execute(f"SET hnsw.ef_search = {int(args.ef_search)}")
        plan = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS) " + sql,
            (vectors.vector_literal(queries[0]),) * 2,
        ).fetchall()
        out["plan"] = [r[0] for r in plan]
        print("\n".join(out["plan"]))  # type: ignore[arg-type]
        rtt, server, bare = [], [], []
        for q in queries:
            literal = vectors.vector_literal(q)
            t = time.perf_counter()
            conn.execute("SELECT 1").fetchall()
            rtt.append((time.perf_counter() - t) * 1000)
            rows = conn.execute(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + sql, (literal, literal)
            ).fetchone()
            server.append(float(rows[0][0]["Execution Time"]))
            t = time.perf_counter()
            conn.execute(sql, (literal, literal)).fetchall()
            bare.append((time.perf_counter() - t) * 1000)
        conn.rollback()
    service = []
    with sessions() as session:
        for q in queries[:20]:
            index.search(session, collection, q[None, :], 5)
            session.rollback()
        for q in queries:
            t = time.perf_counter()
            index.search(session, collection, q[None, :], 5)
            session.rollback()
            service.append((time.perf_counter() - t) * 1000)
    engine.dispose()
    out.update(
        {
            "round_trip_select_1": _ms(rtt),
            "server_execution": _ms(server),
            "bare_statement_psycopg": _ms(bare),
            "service_search": _ms(service),
        }
    )
    for key in (
        "round_trip_select_1",
        "server_execution",
        "bare_statement_psycopg",
        "service_search",
    ):
        print(f"{key:28s} p50 {out[key]['p50_ms']:7.2f} ms  p99 {out[key]['p99_ms']:7.2f} ms")  # type: ignore[index]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()

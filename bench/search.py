"""1:N search benchmark: exact flat vs approximate indexes (HNSW, IVF), 10k to 1M templates.

Every approximate variant runs through `CollectionIndex`, i.e. exactly what the service serves:
the approximate index's short list re-ranked with the float32 vectors. The exact flat index runs in
the same process on the same gallery and queries, so ratios stay honest on a busy machine.

    python -m bench.search --sizes 10000 100000 1000000 --json bench/results/search.json

Reported per variant: p50/p99 latency of single-query searches (k=5), recall@1 and recall@5 against
exact search, bytes of RAM per template (vectors + id map + approximate index, from structure
sizes), build time and load time (reading a snapshot back and making it searchable).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from app.index import snapshot as snapshots
from app.index.ann import AnnConfig
from app.index.collection_index import CollectionIndex
from app.index.registry import IndexRegistry
from bench import gallery as galleries

K = 5


@dataclass(slots=True)
class Row:
    size: int
    variant: str
    p50_ms: float
    p99_ms: float
    recall_at_1: float
    recall_at_5: float
    bytes_per_template: float
    build_s: float
    load_s: float | None
    queries: int


# The approximate variants compared; the first one is the service default (AnnConfig()).
VARIANTS: dict[str, AnnConfig] = {
    "hnsw32-sq8 efC128 ef256 (default)": AnnConfig(),
    "ivf-sq8 nprobe64": AnnConfig(kind="ivf", storage="sq8", nprobe=64),
    "hnsw32-sq8 efC64 ef256": AnnConfig(ef_construction=64),
    "hnsw32-sq8 efC128 ef64": AnnConfig(ef_search=64),
    "hnsw32-flat efC128 ef256": AnnConfig(storage="flat"),
    "hnsw16-sq8 efC128 ef256": AnnConfig(hnsw_m=16),
    "ivf-flat nprobe64": AnnConfig(kind="ivf", storage="flat", nprobe=64),
}


def latencies(search: Callable[[np.ndarray], np.ndarray], queries: np.ndarray) -> np.ndarray:
    """Per-query wall time in ms, batch 1, after a short warm-up."""
    for q in queries[:5]:
        search(q[None])
    out = np.empty(len(queries))
    for i, q in enumerate(queries):
        t = time.perf_counter_ns()
        search(q[None])
        out[i] = (time.perf_counter_ns() - t) / 1e6
    return out


def recall(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    hits = [
        len(set(f[:k].tolist()) & set(t[:k].tolist())) / k
        for f, t in zip(found, truth, strict=True)
    ]
    return float(np.mean(hits))


def bench_size(
    size: int, templates, labels, n_queries: int, variants: dict[str, AnnConfig], log
) -> list[Row]:
    log(f"size {size:,}: making gallery")
    gal = galleries.synthetic(size, templates, labels, seed=size)
    ids = np.arange(1, size + 1, dtype=np.int64)
    queries = galleries.queries(gal, n_queries, seed=size + 1)
    rows: list[Row] = []

    t = time.perf_counter()
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(gal.vectors.shape[1]))
    flat.add_with_ids(gal.vectors, ids)
    flat_build = time.perf_counter() - t
    _, truth = flat.search(queries, K)  # batched: the ground truth
    lat = latencies(lambda q: flat.search(q, K)[1], queries[: min(n_queries, 200)])
    rows.append(
        Row(
            size,
            "exact flat (faiss)",
            *_pct(lat),
            1.0,
            1.0,
            (512 + 8 + 16),
            flat_build,
            None,
            len(lat),
        )
    )
    log(f"  exact flat: p50 {rows[-1].p50_ms:.2f} ms")
    flat.reset()

    for name, config in variants.items():
        t = time.perf_counter()
        index = CollectionIndex(
            gal.vectors.shape[1], exact_max=0, ann_config=config, background=False
        )
        index.add(ids, gal.vectors)
        build = time.perf_counter() - t
        found = index.search(queries, K)[1]
        lat = latencies(lambda q, index=index: index.search(q, K)[1], queries)
        per_template = index.nbytes() / size
        load = _load_time(index, config)
        rows.append(
            Row(
                size,
                name,
                *_pct(lat),
                recall(found, truth, 1),
                recall(found, truth, K),
                per_template,
                build,
                load,
                len(lat),
            )
        )
        log("  " + markdown(rows[-1:]).splitlines()[-1])
        del index
    return rows


def _load_time(index: CollectionIndex, config: AnnConfig) -> float:
    """Seconds to read the index back from a snapshot (checksums verified) until it can search."""
    with tempfile.TemporaryDirectory(dir=galleries.CACHE) as tmp:
        state = snapshots.Snapshot(last_seq=0, tag="", states={"c": index.export_state()})
        snapshots.write(Path(tmp), state, dim=index.dim)
        fresh = IndexRegistry(index.dim, exact_max=0, ann_config=config, background=False)
        t = time.perf_counter()
        ok = fresh.load_snapshot(Path(tmp))
        elapsed = time.perf_counter() - t
        assert ok and len(fresh.get("c")) == len(index)
    return elapsed


def _pct(lat: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(lat, 50)), float(np.percentile(lat, 99))


def markdown(rows: list[Row]) -> str:
    lines = [
        "| templates | index | p50 ms | p99 ms | recall@1 | recall@5 | RAM B/template "
        "| build s | load s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        load = "–" if r.load_s is None else f"{r.load_s:.2f}"
        lines.append(
            f"| {r.size:,} | {r.variant} | {r.p50_ms:.3f} | {r.p99_ms:.3f} | {r.recall_at_1:.4f} | "
            f"{r.recall_at_5:.4f} | {r.bytes_per_template:.0f} | {r.build_s:.1f} | {load} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--variants", nargs="*", help="subset of variant names (default: all)")
    parser.add_argument(
        "--large-variants", type=int, default=2, help="variants run at >=1M (first N)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    # One OpenMP thread, as CollectionIndex uses for every search: the flat baseline gets the same
    # treatment (with two threads on a busy 2-core machine its p50 at 100k was 48 ms, not 1.7).
    faiss.omp_set_num_threads(1)
    templates, labels = galleries.lfw_templates(log=log)
    log(f"real templates: {len(templates)} of {len(np.unique(labels))} LFW people")
    chosen = {k: v for k, v in VARIANTS.items() if not args.variants or k in args.variants}
    rows: list[Row] = []
    for size in args.sizes:
        variants = chosen if size < 1_000_000 else dict(list(chosen.items())[: args.large_variants])
        rows += bench_size(size, templates, labels, args.queries, variants, log)
    print(markdown(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"machine": machine(), "rows": [asdict(r) for r in rows]}, indent=1)
        )
    return rows


def machine() -> dict[str, object]:
    import os

    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "faiss": faiss.__version__,
        "numpy": np.__version__,
    }


if __name__ == "__main__":
    main()

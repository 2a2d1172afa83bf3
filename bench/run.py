"""Run every benchmark, one after another, and print their Markdown tables.

    python -m bench.run                 # everything, full sizes (tens of minutes on 2 cores)
    python -m bench.run --quick         # smaller sizes and request counts, a few minutes
    python -m bench.run --only search startup

Each benchmark runs in its own process (a million-template gallery should not share a heap with
the HTTP servers' measurements) and writes JSON under bench/results/ (bench/results/quick/ for
--quick runs); the combined Markdown goes to stdout and to latest.md there. Every figure inside is
measured side by side with its baseline in the same run.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def suites(quick: bool, out: Path) -> dict[str, list[str]]:
    """Benchmark name -> module and arguments."""
    search_sizes = ["10000", "100000"] if quick else ["10000", "100000", "1000000"]
    return {
        "vision": ["bench.vision", "--out", str(out)] + (["--rounds", "3"] if quick else []),
        "embedder": ["bench.embedder", "--out", str(out / "embedder.json")]
        + (["--rounds", "2"] if quick else []),
        "search": ["bench.search", "--sizes", *search_sizes, "--json", str(out / "search.json")]
        + (["--queries", "200"] if quick else []),
        "startup": [
            "bench.startup",
            "--templates",
            "100000" if quick else "1000000",
            "--json",
            str(out / "startup.json"),
        ],
        "http": [
            "bench.http_load",
            "--json",
            str(out / "http.json"),
            *(
                ["--requests", "24", "--baseline-requests", "12", "--threads", "1x2", "2x2"]
                if quick
                else []
            ),
        ],
        "batcher": [
            "bench.batcher",
            "--json",
            str(out / "batcher.json"),
            *(["--requests", "48", "--rounds", "1"] if quick else []),
        ],
        "pgvector": [
            "bench.pgvector",
            "--sizes",
            *(["100000"] if quick else ["100000", "1000000"]),
            "--replicas",
            *(["1", "2"] if quick else ["1", "2", "4"]),
            "--json",
            str(out / "pgvector.json"),
        ],
    }


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{cpu}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--only", nargs="*", help="subset: vision embedder search startup http batcher pgvector"
    )
    args = parser.parse_args(argv)
    # Quick runs never overwrite the full results that bench/README.md quotes.
    out = RESULTS / "quick" if args.quick else RESULTS
    out.mkdir(parents=True, exist_ok=True)
    chosen = {k: v for k, v in suites(args.quick, out).items() if not args.only or k in args.only}
    report = [f"# facematch benchmarks ({time.strftime('%Y-%m-%d %H:%M')})", "", machine(), ""]
    failed = []
    for name, command in chosen.items():
        print(f"== {name}: python -m {' '.join(command)}", flush=True)
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True
        )
        elapsed = time.perf_counter() - started
        sys.stderr.write(proc.stderr[-4000:])
        # The tables are the Markdown lines each benchmark prints at the end.
        tables = [line for line in proc.stdout.splitlines() if line.startswith("|") or not line]
        report += [
            f"## {name} ({elapsed:.0f} s, exit {proc.returncode})",
            "",
            "\n".join(tables).strip(),
            "",
        ]
        print(proc.stdout, flush=True)
        if proc.returncode:
            failed.append(name)
    text = "\n".join(report)
    (out / "latest.md").write_text(text)
    print(text)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m model_export {export,verify}``.

The alignment template the exporter ships is fitted offline by
``python -m facematch_eval.template``, the int8 activation ranges by
``python -m facematch_eval.int8_calibration``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _export(args: argparse.Namespace) -> int:
    from model_export.export import export_all

    export_all(args.out, force=args.force, only=args.only or None)
    return 0


def _verify(args: argparse.Namespace) -> int:
    from model_export.parity import verify

    return 0 if verify(args.out) else 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m model_export", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="export every model to ONNX and write manifest.json")
    export.add_argument("--out", type=Path, default=Path("models"))
    export.add_argument("--force", action="store_true", help="re-export even when up to date")
    export.add_argument(
        "--only",
        nargs="+",
        metavar="MODEL",
        help="embedder, pnet, rnet, onet and their int8 siblings (embedder_int8, …)",
    )
    export.set_defaults(run=_export)
    verify = sub.add_parser("verify", help="re-check file hashes and torch/ORT/dlib parity")
    verify.add_argument("--out", type=Path, default=Path("models"))
    verify.set_defaults(run=_verify)
    args = parser.parse_args(argv)
    from model_export.sources import SourceMissingError

    try:
        return int(args.run(args))
    except SourceMissingError as exc:  # a missing weights package is a set-up problem, not a bug
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

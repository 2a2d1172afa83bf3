"""Write the OpenAPI document the app serves at /openapi.json to `openapi.json` at the repository
root, so clients can be generated without running the service (and reviews see API changes).

    python scripts/export_openapi.py          # rewrite openapi.json
    python scripts/export_openapi.py --check  # exit 1 when the committed file is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OPENAPI_FILE = REPO / "openapi.json"


def served_spec() -> dict[str, Any]:
    """The document exactly as `GET /openapi.json` returns it (no lifespan needed: no models,
    no database)."""
    sys.path.insert(0, str(REPO))
    from app.main import app

    return app.openapi()


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when openapi.json is stale")
    parser.add_argument("--out", type=Path, default=OPENAPI_FILE)
    args = parser.parse_args()
    text = render(served_spec())
    current = args.out.read_text(encoding="utf-8") if args.out.exists() else None
    if args.check:
        if current != text:
            print(f"stale: {args.out} (run python scripts/export_openapi.py)")
            return 1
        return 0
    if current != text:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

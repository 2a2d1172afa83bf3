"""Write the subset of botocore's Rekognition service model that the Rekognition door serves.

facematch validates requests and shapes responses from Amazon's own model
(botocore/data/rekognition/2016-06-27/service-2.json) without depending on botocore at run time:
this script copies the operations facematch implements, every shape they reach and their error
shapes, minus documentation, into app/api/rekognition/service-2.subset.json. A test regenerates it
from the installed botocore and fails when the committed file differs.

    python scripts/export_rekognition_model.py           # write
    python scripts/export_rekognition_model.py --check   # exit 1 when stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.api.rekognition.model import MODEL_FILE, OPERATIONS  # noqa: E402

_DROP = {"documentation", "deprecated", "deprecatedMessage", "box"}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in sorted(value.items()) if k not in _DROP}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def subset() -> dict[str, Any]:
    import botocore
    from botocore.loaders import Loader

    full = Loader().load_service_model("rekognition", "service-2", "2016-06-27")
    shapes = full["shapes"]
    wanted: set[str] = set()

    def reach(name: str) -> None:
        if name in wanted:
            return
        wanted.add(name)
        shape = shapes[name]
        for member in shape.get("members", {}).values():
            reach(member["shape"])
        for key in ("member", "key", "value"):
            if key in shape:
                reach(shape[key]["shape"])

    operations = {}
    for name in OPERATIONS:
        op = full["operations"][name]
        for part in ("input", "output"):
            if part in op:
                reach(op[part]["shape"])
        for error in op.get("errors", []):
            reach(error["shape"])
        operations[name] = _strip(
            {k: v for k, v in op.items() if k in ("name", "input", "output", "errors")}
        )
    return {
        "source": f"botocore {botocore.__version__}: data/rekognition/2016-06-27/service-2.json",
        "metadata": _strip(full["metadata"]),
        "operations": operations,
        "shapes": {name: _strip(shapes[name]) for name in sorted(wanted)},
    }


def render() -> str:
    return json.dumps(subset(), indent=1, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the file is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if MODEL_FILE.read_text() != text:
            print(f"{MODEL_FILE} is stale: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    MODEL_FILE.write_text(text)
    print(f"wrote {MODEL_FILE} ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory of one request's vision work at the pixel cap (docs/deploy.md, "Memory per request").

Usage: .venv/bin/python bench/decode_memory.py {jpeg|png16} {detect|analyze}

Loads the models, builds an 8000x5000 (40 MP) photo in memory (a JPEG of the fixture face, or the
flat 16-bit grey PNG from the hostile corpus), then reports how much the process's peak RSS grew
while `VisionPipeline.detect` or `.analyze` (what enroll and identify run) handled it. Run each
case in its own process: peak RSS never goes down.
"""

from __future__ import annotations

import io
import resource
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.vision.pipeline import VisionPipeline  # noqa: E402
from tests.attack.corpus import SOURCE_PHOTO, png_16bit_gray_large  # noqa: E402


def _photo(kind: str) -> bytes:
    if kind == "png16":
        return png_16bit_gray_large()
    with Image.open(SOURCE_PHOTO) as source:
        image = source.convert("RGB").resize((8000, 5000))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def main() -> None:
    kind, stage = sys.argv[1], sys.argv[2]
    pipeline = VisionPipeline.load(REPO / "models", threads=1)
    data = _photo(kind)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    (pipeline.detect if stage == "detect" else pipeline.analyze)(data)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(f"{kind} {stage}: peak RSS grew {grown / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

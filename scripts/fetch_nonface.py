"""Build the non-face photo set for detector precision from images shipped in Debian packages.

    python scripts/fetch_nonface.py [--out data/nonface]

`apt-get download` fetches the .deb files (no install, no dependencies; Debian's archive is
reachable wherever this project builds), `dpkg-deb -x` unpacks them into a scratch folder, and the
set is written as JPEGs (longer side ≤ 1024) with `PROVENANCE.tsv` (file, package, version, path
inside the package, licence from the package's copyright file). Two kinds of image:

- wallpapers: every raster wallpaper of eight desktop packages, resolution variants of one picture
  kept once (landscapes, animals, flowers, cities, abstract art);
- objects: tuxpaint-stamps-default's stamps, photos and drawings of animals (with their faces),
  fruit, coins, vehicles, tools, instruments, … (cartoon folders, letters, sign language,
  Halloween masks and people left out), each pasted onto a crop of one of the wallpapers, so every
  image is a busy scene around one object rather than an object on flat transparency.

About 280 MB of downloads; the result is 579 images (142 wallpapers, 437 objects), outside git
(`data/` is ignored).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

WALLPAPER_PACKAGES = (
    "desktop-base",
    "gnome-backgrounds",
    "lomiri-wallpapers",
    "lomiri-wallpapers-16.04",
    "lomiri-wallpapers-20.04",
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
    "sway-backgrounds",
    "ukui-wallpapers",
)
STAMP_PACKAGE = "tuxpaint-stamps-default"
# Stamp folders that are drawings, glyphs, hands or people (a face there would be a real face).
_STAMP_SKIP = re.compile(
    r"/(cartoon|alphabets|faces|people|halloween|toys|00_symbols)/|/symbols/(math|shapes|music|chess)"
)
MAX_SIDE = 1024
_RASTER = {".jpg", ".jpeg", ".png", ".webp"}


def _download(packages: list[str], into: Path) -> dict[str, tuple[str, Path]]:
    """package → (version, unpacked root)."""
    subprocess.run(["apt-get", "download", *packages], cwd=into, check=True)
    out = {}
    for deb in sorted(into.glob("*.deb")):
        package, version = deb.name.split("_")[:2]
        root = into / package
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        out[package] = (version.replace("%3a", ":"), root)
    return out


def _licence(root: Path) -> str:
    licences: list[str] = []
    for copyright_file in root.glob("usr/share/doc/*/copyright"):
        for line in copyright_file.read_text(errors="replace").splitlines():
            if line.startswith("License:"):
                name = line.split(":", 1)[1].strip()
                if name and name not in licences:
                    licences.append(name)
    return ", ".join(licences) or "see the package's copyright file"


def _thumb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L").resize((16, 16), Image.BILINEAR), dtype=np.float32)


def _fit(image: Image.Image, max_side: int = MAX_SIDE) -> Image.Image:
    image = image.convert("RGB")
    scale = max_side / max(image.size)
    if scale < 1:
        image = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.LANCZOS
        )
    return image


def _slug(path: Path, root: Path) -> str:
    """A file name from the path inside the package (Plasma names its files by resolution)."""
    parts = path.relative_to(root).with_suffix("").parts
    parts = tuple(p for p in parts if p not in {"usr", "share", "backgrounds", "wallpapers"})
    return "-".join(parts).replace(" ", "_")


def _seed(name: str) -> np.random.Generator:
    return np.random.default_rng(int(hashlib.sha256(name.encode()).hexdigest()[:16], 16))


def build(out: Path, scratch: Path) -> int:
    sources = _download([*WALLPAPER_PACKAGES, STAMP_PACKAGE], scratch)
    out.mkdir(parents=True, exist_ok=True)
    rows = ["file\tpackage\tversion\tpath\tlicence"]
    wallpapers: list[Image.Image] = []
    seen: list[np.ndarray] = []
    for package in WALLPAPER_PACKAGES:
        version, root = sources[package]
        licence = _licence(root)
        # Biggest first, so the resolution variant kept is the sharpest one.
        files = sorted(
            (p for p in root.rglob("*") if p.suffix.lower() in _RASTER and "/doc/" not in str(p)),
            key=lambda p: (-p.stat().st_size, str(p)),
        )
        for path in files:
            with Image.open(path) as raw:
                if min(raw.size) < 320:  # icons and previews
                    continue
                image = _fit(raw)
            thumb = _thumb(image)
            if any(np.abs(thumb - t).mean() < 6 for t in seen):
                continue  # another resolution or crop of a picture already in the set
            seen.append(thumb)
            name = f"wallpaper__{package}__{_slug(path, root)}.jpg"
            image.save(out / name, quality=90)
            wallpapers.append(image)
            rows.append(f"{name}\t{package}\t{version}\t/{path.relative_to(root)}\t{licence}")
    version, root = sources[STAMP_PACKAGE]
    licence = _licence(root)
    stamps = sorted(
        p
        for p in (root / "usr/share/tuxpaint/stamps").rglob("*.png")
        if not _STAMP_SKIP.search(str(p)) and not p.stem.endswith("_mirror")
    )
    for path in stamps:
        rng = _seed(str(path.relative_to(root)))
        background = wallpapers[int(rng.integers(len(wallpapers)))]
        scale = 640 / min(background.size)
        canvas = background.resize(
            (round(background.width * scale), round(background.height * scale)), Image.BILINEAR
        )
        left = int(rng.integers(0, canvas.width - 640 + 1))
        canvas = canvas.crop((left, 0, left + 640, 480))
        with Image.open(path) as raw:
            stamp = raw.convert("RGBA")
        side = float(rng.uniform(0.35, 0.8)) * 480
        factor = side / max(stamp.size)
        stamp = stamp.resize(
            (max(1, round(stamp.width * factor)), max(1, round(stamp.height * factor))),
            Image.LANCZOS,
        )
        x = int(rng.integers(0, max(1, 640 - stamp.width)))
        y = int(rng.integers(0, max(1, 480 - stamp.height)))
        canvas.paste(stamp, (x, y), stamp)
        name = f"object__{_slug(path, root / 'usr/share/tuxpaint/stamps')}.jpg"
        canvas.save(out / name, quality=90)
        rows.append(
            f"{name}\t{STAMP_PACKAGE}\t{version}\t/{path.relative_to(root)}"
            f" (on a crop of another image of this set)\t{licence}"
        )
    (out / "PROVENANCE.tsv").write_text("\n".join(rows) + "\n")
    return len(rows) - 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("data/nonface"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nonface-") as scratch:
        count = build(args.out, Path(scratch))
    print(f"{count} non-face images → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

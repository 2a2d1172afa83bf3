"""Where the pretrained weights live: files shipped inside installed PyPI distributions.

The packages are located through their installed metadata, never imported: facenet-pytorch's
``__init__`` pulls in torchvision, which this project does not install. facenet-pytorch may also be
absent: its weights are then read from its wheel, fetched by pip (see ``mtcnn_weights``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


class SourceMissingError(RuntimeError):
    """A distribution that carries weights is not installed, or lacks the expected file."""


@dataclass(frozen=True)
class Source:
    package: str  # distribution name as on PyPI
    version: str
    licence: str
    path: Path

    @property
    def file(self) -> str:
        return self.path.name

    def sha256(self) -> str:
        return file_sha256(self.path)

    def describe(self) -> dict[str, str]:
        return {
            "package": self.package,
            "version": self.version,
            "licence": self.licence,
            "file": self.file,
            "sha256": self.sha256(),
        }


# Licences as the upstream repositories state them; the wheels' metadata omit some of them.
_LICENCES = {
    "facenet-pytorch": "MIT (timesler/facenet-pytorch; MTCNN weights from Zhang et al. 2016)",
    "face-recognition-models": (
        "MIT (package); weights released into the public domain by Davis King (dlib-models README)"
    ),
}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def locate(package: str, relative: str) -> Source:
    """Find ``relative`` (a path inside the distribution's install root) without importing it."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError as exc:
        raise SourceMissingError(
            f"{package} is not installed; install the export extra (pip install -e '.[export]')"
        ) from exc
    path = Path(str(dist.locate_file(relative)))
    if not path.is_file():
        raise SourceMissingError(f"{package} {dist.version} has no {relative} (looked at {path})")
    licence = _LICENCES.get(package) or dist.metadata.get("License") or "unknown"
    return Source(package=package, version=dist.version, licence=licence, path=path)


# facenet-pytorch 2.6.0 requires torch<2.3, numpy<2 and Pillow<10.3, which contradict this project's
# pins, so no extra can depend on it; all the exporter needs from it are MTCNN's three state dicts
# in its wheel. When it is installed (`pip install --no-deps facenet-pytorch==2.6.0`, as the
# Dockerfile does) they are read from there; otherwise pip downloads that one wheel, without its
# dependencies and held to the sha256 below, and the files are read out of it. So
# `pip install -e '.[export]'` is all an export needs.
FACENET = "facenet-pytorch"
FACENET_VERSION = "2.6.0"
FACENET_WHEEL_SHA256 = "ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca"


def mtcnn_weights(net: str) -> Source:
    """``net`` is ``pnet``, ``rnet`` or ``onet``."""
    relative = f"facenet_pytorch/data/{net}.pt"
    try:
        importlib.metadata.distribution(FACENET)
    except importlib.metadata.PackageNotFoundError:
        return _from_wheel(relative)
    return locate(FACENET, relative)


def weights_cache() -> Path:
    """Where downloaded weight wheels are unpacked (the user's cache directory)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "facematch" / "weights"


def _from_wheel(relative: str) -> Source:
    folder = weights_cache() / f"facenet_pytorch-{FACENET_VERSION}"
    target = folder / relative
    if not target.is_file():
        wheel = _download_facenet_wheel(folder)
        with zipfile.ZipFile(wheel) as archive, tempfile.TemporaryDirectory(dir=folder) as tmp:
            # One fixed member name, so nothing in the archive chooses where it is written.
            extracted = archive.extract(relative, tmp)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(extracted, target)  # atomic: a concurrent export never reads half a file
    return Source(package=FACENET, version=FACENET_VERSION, licence=_LICENCES[FACENET], path=target)


def _download_facenet_wheel(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"facenet_pytorch-{FACENET_VERSION}-py3-none-any.whl"
    if wheel.is_file() and file_sha256(wheel) == FACENET_WHEEL_SHA256:
        return wheel
    requirement = folder / "requirement.txt"
    requirement.write_text(f"{FACENET}=={FACENET_VERSION} --hash=sha256:{FACENET_WHEEL_SHA256}\n")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--require-hashes", "-r", str(requirement), "-d", str(folder), "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not wheel.is_file():
        raise SourceMissingError(
            f"{FACENET} {FACENET_VERSION} (MTCNN's weights) is not installed and pip could not "
            f"download its wheel: {result.stderr.strip()[-500:]}\n"
            f"Install it without its dependencies: "
            f"pip install --no-deps {FACENET}=={FACENET_VERSION}"
        )
    return wheel


def dlib_model(name: str) -> Source:
    """A .dat file of face-recognition-models (found without importing it: it needs
    pkg_resources)."""
    return locate("face-recognition-models", f"face_recognition_models/models/{name}")


def dlib_resnet_weights() -> Source:
    return dlib_model("dlib_face_recognition_resnet_model_v1.dat")

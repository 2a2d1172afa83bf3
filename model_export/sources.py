"""Where the pretrained weights live: files shipped inside installed PyPI distributions.

The packages are located through their installed metadata, never imported: facenet-pytorch's
``__init__`` pulls in torchvision, which this project does not install.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
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


def mtcnn_weights(net: str) -> Source:
    """``net`` is ``pnet``, ``rnet`` or ``onet``."""
    return locate("facenet-pytorch", f"facenet_pytorch/data/{net}.pt")


def dlib_model(name: str) -> Source:
    """A .dat file of face-recognition-models (found without importing it: it needs
    pkg_resources)."""
    return locate("face-recognition-models", f"face_recognition_models/models/{name}")


def dlib_resnet_weights() -> Source:
    return dlib_model("dlib_face_recognition_resnet_model_v1.dat")

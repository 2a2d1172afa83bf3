"""One live facematch per test module (the Rekognition door needs a real HTTP endpoint)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.rekognition.support import Served, served


@pytest.fixture(scope="module")
def server(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("rekognition"), models_dir) as live:
        yield live

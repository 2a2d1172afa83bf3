"""Unit vectors for index tests: clustered like face templates (identities plus noise)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.index.vectors import clustered


@pytest.fixture
def gallery() -> tuple[np.ndarray, np.ndarray]:
    vectors = clustered(2000)
    ids = np.arange(1000, 1000 + len(vectors), dtype=np.int64)
    return ids, vectors

"""Offline evaluation and template fitting: tools that measure and tune the service, not in it.

This package depends on `app` (it runs the service's own vision code) and on `model_export` (where
the weight packages are found); `app` never imports it (an import-linter contract). It adds the
`facematch eval` command through the `facematch.commands` entry point, so the runtime CLI has the
command exactly when this package is installed.

    facematch eval ...                       (or python -m facematch_eval.eval ...)
    python -m facematch_eval.template ...    fit the 5-point alignment template
"""

from __future__ import annotations

import numpy as np


def nearest_to_centre(centres: np.ndarray, width: int, height: int) -> int:
    """Index of the (x, y) centre nearest the image centre: in an LFW photo, the subject."""
    return int(np.argmin(np.hypot(centres[:, 0] - width / 2, centres[:, 1] - height / 2)))

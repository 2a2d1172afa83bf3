"""The DeepStack face API door (`/v1/vision/face/...`); see docs/compat.md."""

from app.api.deepstack.errors import too_large
from app.api.deepstack.routes import PREFIXES, TAG, router

__all__ = ["PREFIXES", "TAG", "router", "too_large"]

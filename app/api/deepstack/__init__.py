"""The DeepStack face API door (`/v1/vision/face/...`); see docs/compat.md."""

from app.api.deepstack.routes import TAG, router

__all__ = ["TAG", "router"]

"""The CompreFace API door (`/api/v1/recognition|detection|verification/...`); see
docs/compat.md."""

from app.api.compreface.errors import too_large
from app.api.compreface.routes import PREFIXES, TAG, router

__all__ = ["PREFIXES", "TAG", "router", "too_large"]

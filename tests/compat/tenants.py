"""The two tenants of the compatibility tests' live server."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tests.helpers import ADMIN_KEY


@dataclass(frozen=True, slots=True)
class Tenants:
    url: str
    host: str
    port: int
    collection_a: str
    collection_b: str
    enroll_a: str
    identify_a: str
    enroll_b: str

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": ADMIN_KEY}, timeout=60)

"""Per-stage timings of a real identify reach `/metrics` (the work runs in the inference pool)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.stage_timing import STAGES
from tests.helpers import add_identity, enroll, identify

IDENTIFY_ROUTE = "/v1/collections/{collection_id}/identify"


def _stage_counts(client: TestClient, route: str) -> dict[str, float]:
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if (
                sample.name == "facematch_stage_duration_seconds_count"
                and sample.labels.get("route") == route
            ):
                counts[sample.labels["stage"]] = sample.value
    return counts


def test_identify_records_its_search_and_every_timed_stage_in_metrics(
    client: TestClient, collection: dict[str, object]
) -> None:
    identity = add_identity(client, collection["id"], external_id="obama")
    enroll(client, collection["id"], identity["id"], "obama/obama1.jpg")
    before = _stage_counts(client, IDENTIFY_ROUTE)
    identify(client, collection["id"], "obama/obama2.jpg")
    after = _stage_counts(client, IDENTIFY_ROUTE)
    assert after.get("search", 0) > before.get("search", 0)
    # Stages the pipeline times itself show up once it does; whichever appear must have counted.
    for stage in set(after) - {"search"}:
        assert stage in STAGES
        assert after[stage] > before.get(stage, 0), stage

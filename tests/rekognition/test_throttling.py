"""facematch's per-key rate limit reaches a boto3 client as Rekognition's ThrottlingException."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.rekognition.support import Served, client, create_key, served


@pytest.fixture(scope="module")
def limited(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # Three requests at once, then one a minute: the fourth quick call must be throttled.
    with served(
        tmp_path_factory.mktemp("throttled"),
        models_dir,
        rate_limit_per_minute="1",
        rate_limit_burst="3",
    ) as live:
        yield live


def test_rate_limit_is_a_throttling_exception(limited: Served) -> None:
    rek = client(limited, create_key(limited, role="identify"))
    for _ in range(3):
        rek.list_collections()
    with pytest.raises(ClientError) as raised:
        rek.list_collections()
    error = raised.value.response
    assert error["Error"]["Code"] == "ThrottlingException"
    # 429, not the 500 of Rekognition's fault shape: a throttled caller is no server error, and
    # botocore still backs off and retries ThrottlingException by its code.
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert int(error["ResponseMetadata"]["HTTPHeaders"]["retry-after"]) >= 1
    # Another key has its own bucket.
    assert (
        "CollectionIds" in client(limited, create_key(limited, role="identify")).list_collections()
    )

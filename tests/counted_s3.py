"""An S3 blob store on a fresh SeaweedFS bucket whose every S3 operation is counted by name:
for tests that show what the server sends to the object store (the same calls whatever
another project holds; nothing stored for a refused request)."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest

from cairn.storage.blobs.s3 import S3BlobStore, s3_client_factory


def counted_s3_store(seaweed: Any, monkeypatch: pytest.MonkeyPatch, **options: Any) -> tuple[S3BlobStore, Counter]:
    """A store on a new bucket of ``seaweed`` (tests/services.py) and the counter of the S3
    operations it sends; ``options`` go to S3BlobStore (part sizes...)."""
    for k, v in seaweed.env().items():
        monkeypatch.setenv(k, v)
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    seaweed.client().create_bucket(Bucket=bucket)
    calls: Counter = Counter()

    def make():  # noqa: ANN202
        client = s3_client_factory()()
        client.meta.events.register("before-call.s3", lambda model, **_: calls.update([model.name]))
        return client

    return S3BlobStore(bucket, "srv", make, **options), calls

"""Stores by URL scheme: the right adapter, an install hint for a missing driver, and an
error listing the known schemes for anything else — never a silent fallback."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from cairn.core.errors import StoreError
from cairn.storage import registry
from cairn.storage.blobs.local import LocalBlobStore
from cairn.storage.blobs.s3 import S3BlobStore
from cairn.storage.registry import open_blobs, open_meta


def test_local_blobs_from_a_path_or_file_url(tmp_path: Path):
    for url in (str(tmp_path / "b"), f"file://{tmp_path}/b", f"file://{tmp_path}/%62"):
        store = open_blobs(url)
        assert isinstance(store, LocalBlobStore) and store.root == tmp_path / "b"
    assert not (tmp_path / "b").exists()  # opening does no I/O


def test_s3_blobs_from_a_url():
    for url, prefix in (("s3://bkt", ""), ("s3://bkt/", ""), ("s3://bkt/a/b/", "a/b")):
        store = open_blobs(url)
        assert isinstance(store, S3BlobStore) and (store.bucket, store.prefix) == ("bkt", prefix)
    with pytest.raises(StoreError, match="names no bucket"):
        open_blobs("s3:///prefix")


@pytest.mark.parametrize("url", ["gs://bucket/x", "http://host/x", "memory://"])
def test_unknown_blob_scheme_lists_the_known_ones(url: str):
    with pytest.raises(StoreError) as err:
        open_blobs(url)
    assert all(s in str(err.value) for s in ("file://", "s3://", "plain path", url.partition(":")[0]))


def test_meta_urls(tmp_path: Path):
    assert open_meta(f"sqlite:///{tmp_path}/m/m.sqlite").is_sqlite
    for url in ("postgresql://u:p@h/db", "postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"):
        assert open_meta(url).url == "postgresql+psycopg://u:p@h/db"
    assert not (tmp_path / "m").exists()  # opening does no I/O


@pytest.mark.parametrize("url", ["mysql://u:secret@h/db", "/some/path.sqlite", "postgresql+psycopg2://u:secret@h/db"])
def test_unknown_meta_scheme_lists_the_known_ones(url: str):
    with pytest.raises(StoreError) as err:
        open_meta(url)
    assert "sqlite://" in str(err.value) and "postgresql://" in str(err.value)
    assert "secret" not in str(err.value)


def test_missing_driver_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch):
    real = importlib.util.find_spec
    gone = ("psycopg", "sqlalchemy", "boto3")
    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name, *a: None if name in gone else real(name, *a))
    with pytest.raises(StoreError, match=r"pip install 'cairn\[server\]'") as err:
        open_meta("postgresql://u:secret@h/db")
    assert "secret" not in str(err.value)
    with pytest.raises(StoreError, match=r"pip install 'cairn\[s3\]'"):
        open_blobs("s3://bkt")

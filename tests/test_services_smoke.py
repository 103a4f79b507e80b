"""Smoke tests for tests/services.py: the real PostgreSQL and SeaweedFS S3 servers."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest
import sqlalchemy as sa

from services import (
    SeaweedProcess,
    ServiceError,
    create_database,
    postgres_server,
    seaweed_s3,
)


def test_postgres_roundtrip_and_isolated_databases(tmp_path):
    with postgres_server(tmp_path / "pg") as url:
        assert url.startswith("postgresql+psycopg://") and "@127.0.0.1:" in url
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE runs (id serial PRIMARY KEY, name text)"))
            conn.execute(sa.text("INSERT INTO runs (name) VALUES ('a'), ('b')"))
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT name FROM runs ORDER BY id")).scalars().all()
        assert rows == ["a", "b"]
        engine.dispose()

        other = sa.create_engine(create_database(url, "isolated"))
        with other.connect() as conn:
            assert conn.execute(sa.text("SELECT current_database()")).scalar() == "isolated"
            assert sa.inspect(conn).get_table_names() == []
        other.dispose()
    assert not (tmp_path / "pg" / "pgdata").exists()
    assert (tmp_path / "pg" / "postgres.log").exists()


def test_postgres_stopped_even_on_error(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with postgres_server(tmp_path / "pg") as url:
            1 / 0
    engine = sa.create_engine(url, connect_args={"connect_timeout": 2})
    with pytest.raises(sa.exc.OperationalError):
        engine.connect()
    assert not (tmp_path / "pg" / "pgdata").exists()


def test_seaweed_put_get_list_presigned_and_restart(tmp_path):
    with seaweed_s3(tmp_path / "s3") as s3:
        env = s3.env()
        assert env["AWS_ENDPOINT_URL"] == s3.endpoint_url
        assert env["AWS_DEFAULT_REGION"] == "us-east-1"
        client = s3.client()
        assert client.list_buckets()["Buckets"] == []  # the readiness probe writes nothing
        client.create_bucket(Bucket="artifacts")

        client.put_object(Bucket="artifacts", Key="a/one.txt", Body=b"one")
        assert client.get_object(Bucket="artifacts", Key="a/one.txt")["Body"].read() == b"one"
        listed = client.list_objects_v2(Bucket="artifacts", Prefix="a/")["Contents"]
        assert [o["Key"] for o in listed] == ["a/one.txt"]

        # Presigned PUT and GET with a plain HTTP client.
        put_url = client.generate_presigned_url(
            "put_object", Params={"Bucket": "artifacts", "Key": "b/two.bin"}, ExpiresIn=300
        )
        data = os.urandom(100_000)
        assert httpx.put(put_url, content=data).status_code == 200
        get_url = client.generate_presigned_url(
            "get_object", Params={"Bucket": "artifacts", "Key": "b/two.bin"}, ExpiresIn=300
        )
        got = httpx.get(get_url)
        assert got.status_code == 200 and got.content == data

        # Presigned multipart upload_part (parts other than the last must be >= 5 MiB).
        parts_data = [os.urandom(5 * 1024 * 1024), b"tail"]
        upload_id = client.create_multipart_upload(Bucket="artifacts", Key="c/big.bin")["UploadId"]
        parts = []
        for number, chunk in enumerate(parts_data, start=1):
            url = client.generate_presigned_url(
                "upload_part",
                Params={"Bucket": "artifacts", "Key": "c/big.bin", "UploadId": upload_id, "PartNumber": number},
                ExpiresIn=300,
            )
            resp = httpx.put(url, content=chunk, timeout=60)
            assert resp.status_code == 200, resp.text
            parts.append({"PartNumber": number, "ETag": resp.headers["ETag"]})
        client.complete_multipart_upload(
            Bucket="artifacts", Key="c/big.bin", UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
        body = client.get_object(Bucket="artifacts", Key="c/big.bin")["Body"].read()
        assert hashlib.sha256(body).digest() == hashlib.sha256(b"".join(parts_data)).digest()

        # Take the store away and bring it back on the same port and data dir.
        s3.process.stop()
        assert not s3.process.running
        with pytest.raises(Exception):
            s3.client(config=_no_retries()).list_buckets()
        s3.process.start()
        assert client.get_object(Bucket="artifacts", Key="a/one.txt")["Body"].read() == b"one"
        assert httpx.get(get_url).content == data
        client.put_object(Bucket="artifacts", Key="d/after.txt", Body=b"after")
        keys = [o["Key"] for o in client.list_objects_v2(Bucket="artifacts")["Contents"]]
        assert keys == ["a/one.txt", "b/two.bin", "c/big.bin", "d/after.txt"]
    assert not s3.process.running


def test_two_instances_side_by_side(tmp_path):
    with (
        postgres_server(tmp_path / "pg1") as pg1,
        postgres_server(tmp_path / "pg2") as pg2,
        seaweed_s3(tmp_path / "s3a") as s3a,
        seaweed_s3(tmp_path / "s3b") as s3b,
    ):
        assert sa.make_url(pg1).port != sa.make_url(pg2).port
        assert s3a.endpoint_url != s3b.endpoint_url
        s3a.client().create_bucket(Bucket="only-in-a")
        assert s3b.client().list_buckets()["Buckets"] == []
        for url in (pg1, pg2):
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT 1")).scalar() == 1
            engine.dispose()


def test_failed_initdb_raises_with_log_tail(tmp_path):
    with pytest.raises(ServiceError) as err:
        with postgres_server(tmp_path / "pg", user="pg_reserved"):
            pass
    assert "postgres.log ---" in str(err.value)
    assert "pg_reserved" in str(err.value)  # initdb refuses role names starting with pg_
    assert not (tmp_path / "pg" / "pgdata").exists()


def test_failed_start_raises_with_log_tail(tmp_path, monkeypatch):
    real_args = SeaweedProcess._args
    monkeypatch.setattr(SeaweedProcess, "_args", lambda self: [*real_args(self), "-s3.config=/nonexistent/ids.json"])
    with pytest.raises(ServiceError) as err:
        with seaweed_s3(tmp_path / "s3", timeout=30):
            pass
    assert "seaweed.log ---" in str(err.value)
    assert "/nonexistent/ids.json" in str(err.value)  # weed's own last words


def _no_retries():
    from botocore.config import Config

    return Config(connect_timeout=1, retries={"max_attempts": 1})

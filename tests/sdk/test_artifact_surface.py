"""The Artifact surface beyond the spec page: dedup and aliases, editable attributes,
new_file, references (file:// and http://), tables, reading and downloading, deleting,
lineage, and the costs that must grow with what changed (no rewrites, no re-hashing)."""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path

import blake3
import pytest
from helpers import write

import cairn
from cairn.client import get_client


@pytest.fixture(autouse=True)
def _on_every_backend(backend):
    """Each test here runs on the embedded store and through a server on PostgreSQL + S3."""
    return backend


def log(files: dict[str, bytes | str], name: str = "data", aliases: list[str] | None = None, **kw) -> cairn.Artifact:
    src = Path(f"src-{name}")
    if src.exists():
        shutil.rmtree(src)
    for rel, data in files.items():
        write(src / rel, data)
    with cairn.init(job_type=kw.pop("job_type", "test")) as run:
        a = cairn.Artifact(name, kw.pop("type_", "dataset"), **kw)
        a.add_dir(src)
        run.log_artifact(a, aliases=aliases)
    return a


def aliases_of(ref: str) -> list[str]:
    return cairn.Api().artifact(ref).aliases


def history(name: str = "data", project: str = "uncategorized") -> list[tuple[str, int | None, int | None]]:
    """(alias, old version index, new version index) for every alias move, oldest first."""
    client = get_client()
    index = {int(a.id): int(a.version[1:]) for a in cairn.Api().artifacts("dataset", f"{project}/{name}")}
    rows = client.alias_history(client.entity, project, name)
    return [(r["alias"], index.get(r["old_version_id"]), index.get(r["new_version_id"])) for r in rows]


# -- dedup and aliases -------------------------------------------------------------------------


def test_identical_content_returns_the_same_version_with_the_new_aliases():
    v0 = log({"a.txt": "one", "b/c.txt": "two"}, aliases=["first"])
    assert (v0.version, v0.aliases) == ("v0", ["latest", "first"])
    again = log({"b/c.txt": "two", "a.txt": "one"}, aliases=["again"])  # same files, other order
    assert again.version == "v0" and again.id == v0.id
    assert again.aliases == ["latest", "again", "first"]
    v1 = log({"a.txt": "one!"})
    assert v1.version == "v1" and aliases_of("data:latest") == aliases_of("data:v1") == ["latest"]
    back = log({"a.txt": "one", "b/c.txt": "two"}, aliases=["rollback"])  # v0's content again
    assert back.version == "v0"
    assert aliases_of("data:latest") == ["latest", "again", "first", "rollback"]  # latest moved to v0
    assert [a.version for a in cairn.Api().artifacts("dataset", "data")] == ["v0", "v1"]
    assert history() == [
        ("latest", None, 0),
        ("first", None, 0),
        ("again", None, 0),
        ("latest", 0, 1),
        ("latest", 1, 0),
        ("rollback", None, 0),
    ]


def test_digest_does_not_depend_on_the_order_files_are_added():
    for name in ("a.txt", "b/c.txt", "b/d.txt"):
        write(name, name)
    orders = [["a.txt", "b/c.txt", "b/d.txt"], ["b/d.txt", "a.txt", "b/c.txt"]]
    digests = []
    for order in orders:
        a = cairn.Artifact("data", "dataset")
        for name in order:
            a.add_file(name, name=name)
        digests.append(a.digest)
        a.save()
        assert a.version == "v0"
    assert digests[0] == digests[1]


def test_identical_content_with_other_sizes_or_metadata_still_dedups():
    v0 = log({"a.txt": "same"}, metadata={"run": 1}, description="first")
    v = log({"a.txt": "same"}, metadata={"run": 2}, description="second")
    assert v.version == v0.version == "v0"


def test_aliases_set_on_a_committed_artifact_and_saved_make_no_version():
    v0 = log({"a.txt": "one"})
    v1 = log({"a.txt": "two"})
    v0 = cairn.Api().artifact("data:v0")
    v0.aliases = ["prod", "candidate"]
    v0.save()
    assert v0.version == "v0"
    assert aliases_of("data:prod") == ["candidate", "prod"] == aliases_of("data:v0")
    # moving an alias: it leaves the version it was on
    v1 = cairn.Api().artifact("data:v1")
    v1.aliases = v1.aliases + ["prod"]
    v1.save()
    assert cairn.Api().artifact("data:prod").version == "v1"
    assert aliases_of("data:v0") == ["candidate"]
    assert aliases_of("data:v1") == ["latest", "prod"]
    # dropping an alias
    v0 = cairn.Api().artifact("data:v0")
    v0.aliases = []
    v0.save()
    assert not cairn.Api().artifact_exists("data:candidate")
    assert [a.version for a in cairn.Api().artifacts("dataset", "data")] == ["v0", "v1"]
    assert history() == [
        ("latest", None, 0),
        ("latest", 0, 1),
        ("prod", None, 0),
        ("candidate", None, 0),
        ("prod", 0, 1),
        ("candidate", 0, None),
    ]
    assert all(r["at"] is not None for r in get_client().alias_history(get_client().entity, "uncategorized", "data"))


def test_reserved_and_latest_aliases_on_save():
    log({"a.txt": "one"})
    log({"a.txt": "two"})
    v0 = cairn.Api().artifact("data:v0")
    v0.aliases = ["latest"]  # taking latest back explicitly is allowed
    v0.save()
    assert cairn.Api().artifact("data:latest").version == "v0"
    with pytest.raises(cairn.UsageError, match="reserved"):
        v0.aliases = ["v1"]


def test_tags_description_metadata_ttl_edits_after_logging():
    a = log({"a.txt": "one"}, description="raw", metadata={"rows": 1})
    a.tags = ["nightly", "team a"]
    a.description = "cleaned"
    a.metadata = {"rows": 2, "source": {"kind": "s3"}}
    a.ttl = timedelta(days=3)
    a.save()
    got = cairn.Api().artifact("data:latest")
    assert got.version == "v0"
    assert got.tags == ["nightly", "team a"]
    assert got.description == "cleaned"
    assert got.metadata == {"rows": 2, "source": {"kind": "s3"}}
    assert got.ttl == timedelta(days=3)
    assert got.updated_at >= got.created_at
    assert [v.version for v in cairn.Api().artifacts("dataset", "data")] == ["v0"]
    assert [v.version for v in cairn.Api().artifacts("dataset", "data", tags="nightly")] == ["v0"]
    assert cairn.Api().artifacts("dataset", "data", tags=["nightly", "other"]) == []
    got.ttl = None
    got.tags = []
    got.save()
    again = cairn.Api().artifact("data:v0")
    assert (again.ttl, again.tags) == (None, [])
    with pytest.raises(cairn.UsageError, match="tag"):
        got.tags = ["no/slash"]
    with pytest.raises(cairn.UsageError, match="ttl"):
        got.ttl = timedelta(seconds=-1)


def test_tags_and_ttl_at_log_time():
    write("a.txt", "x")
    with cairn.init() as run:
        a = cairn.Artifact("data", "dataset")
        a.add_file("a.txt")
        a.ttl = timedelta(hours=1)
        run.log_artifact(a, tags=["t1"])
    got = cairn.Api().artifact("data:v0")
    assert got.tags == ["t1"] and got.ttl == timedelta(hours=1)


# -- adding content ---------------------------------------------------------------------------


def test_new_file():
    a = cairn.Artifact("data", "dataset")
    with a.new_file("notes/readme.txt") as f:
        f.write("hello")
    with a.new_file("blob.bin", mode="wb") as f:
        f.write(b"\x00\x01")
    with pytest.raises(cairn.UsageError, match="notes/readme.txt"):
        with a.new_file("notes/readme.txt") as f:
            f.write("again")
    with cairn.init() as run:
        run.log_artifact(a)
    got = cairn.Api().artifact("data:latest")
    assert sorted(got.manifest) == ["blob.bin", "notes/readme.txt"]
    root = Path(got.download("dl"))
    assert (root / "notes/readme.txt").read_text() == "hello"
    assert (root / "blob.bin").read_bytes() == b"\x00\x01"
    assert got.get_entry("notes/readme.txt").size == 5


def test_add_file_overwrite_and_add_dir_merge():
    write("one.txt", "1")
    write("two.txt", "2")
    a = cairn.Artifact("data", "dataset")
    a.add_file("one.txt", name="x.txt")
    a.add_file("one.txt", name="x.txt")  # the same content again is fine
    with pytest.raises(cairn.UsageError, match="x.txt"):
        a.add_file("two.txt", name="x.txt")
    a.add_file("two.txt", name="x.txt", overwrite=True)
    assert a.get_entry("x.txt").size == 1 and a.get_entry("x.txt").local_path.endswith("two.txt")
    write("d/x.txt", "3")
    with pytest.raises(cairn.UsageError, match="x.txt"):
        a.add_dir("d")
    a.add_dir("d", merge=True)
    with cairn.init() as run:
        run.log_artifact(a)
    assert Path(cairn.Api().artifact("data:v0").download("dl"), "x.txt").read_text() == "3"


def test_file_reference_to_a_file_and_a_folder(tmp_path):
    ext = tmp_path / "external"
    write(ext / "one.csv", "a,b\n1,2\n")
    write(ext / "sub/two.csv", "c\n3\n")
    a = cairn.Artifact("refs", "dataset")
    (one,) = a.add_reference(f"file://{ext / 'one.csv'}")
    assert one.path == "one.csv" and one.ref == f"file://{ext / 'one.csv'}"
    assert one.digest == "blake3:" + blake3.blake3(b"a,b\n1,2\n").hexdigest()
    folder = a.add_reference(f"file://{ext}", name="all")
    assert sorted(e.path for e in folder) == ["all/one.csv", "all/sub/two.csv"]
    unchecked = a.add_reference(f"file://{ext / 'sub'}", name="raw", checksum=False)
    assert [e.digest for e in unchecked] == [f"uri:file://{ext / 'sub' / 'two.csv'}"]
    with cairn.init() as run:
        run.log_artifact(a)
    got = cairn.Api().artifact("refs:latest")
    assert got.get_entry("all/sub/two.csv").ref_target() == f"file://{ext / 'sub' / 'two.csv'}"
    root = Path(got.download(tmp_path / "dl"))
    assert (root / "one.csv").read_text() == "a,b\n1,2\n"
    assert (root / "all/sub/two.csv").read_text() == "c\n3\n"
    assert (root / "raw/two.csv").read_text() == "c\n3\n"
    # the referenced bytes are not copied into the store: a changed checksummed file is detected
    (ext / "one.csv").write_text("a,b\n9,9\n")
    with pytest.raises(cairn.IntegrityError, match="one.csv"):
        got.download(tmp_path / "dl2")
    # an unchecksummed reference follows its target
    (ext / "sub/two.csv").write_text("c\n4\n")
    got.get_entry("raw/two.csv").download(tmp_path / "dl3")
    assert (tmp_path / "dl3/raw/two.csv").read_text() == "c\n4\n"


def test_file_reference_max_objects_is_never_truncated(tmp_path):
    ext = tmp_path / "many"
    for i in range(5):
        write(ext / f"f{i}.txt", str(i))
    a = cairn.Artifact("refs", "dataset")
    with pytest.raises(cairn.UsageError) as e:
        a.add_reference(f"file://{ext}", max_objects=4)
    assert "max_objects=4" in str(e.value) and str(ext) in str(e.value)
    assert len(a.manifest) == 0  # nothing added, not the first 4
    assert len(a.add_reference(f"file://{ext}", max_objects=5)) == 5


class _EtagHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder, with an ETag (md5 of the bytes) as S3 and most servers send."""

    def end_headers(self) -> None:
        path = Path(self.translate_path(self.path))
        if path.is_file():
            self.send_header("ETag", '"' + hashlib.md5(path.read_bytes()).hexdigest() + '"')
        super().end_headers()

    def log_message(self, *args) -> None:  # keep test output clean
        pass


@pytest.fixture
def http_folder(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **kw: _EtagHandler(*a, directory=str(root), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_reference(http_folder, tmp_path):
    root, base = http_folder
    write(root / "weights.bin", b"w" * 1000)
    write(root / "plain.txt", "text")
    a = cairn.Artifact("remote", "model")
    (w,) = a.add_reference(f"{base}/weights.bin")
    assert w.path == "weights.bin" and w.size == 1000 and w.ref == f"{base}/weights.bin"
    assert w.digest == "etag:" + hashlib.md5(b"w" * 1000).hexdigest()
    (p,) = a.add_reference(f"{base}/plain.txt", name="docs/plain.txt", checksum=False)
    assert p.digest == f"uri:{base}/plain.txt"
    with cairn.init() as run:
        run.log_artifact(a)
    got = cairn.Api().artifact("remote:latest")
    dl = Path(got.download(tmp_path / "dl"))
    assert (dl / "weights.bin").read_bytes() == b"w" * 1000
    assert (dl / "docs/plain.txt").read_text() == "text"
    (root / "weights.bin").write_bytes(b"changed")
    with pytest.raises(cairn.IntegrityError, match="weights.bin"):
        got.get_entry("weights.bin").download(tmp_path / "dl2")
    with pytest.raises(cairn.NotFoundError, match="404"):
        cairn.Artifact("remote", "model").add_reference(f"{base}/missing.bin")


# -- tables -----------------------------------------------------------------------------------


def test_table_and_dataframe_add_and_get():
    pd = pytest.importorskip("pandas")
    table = cairn.Table(columns=["id", "score"], data=[[1, 0.5], [2, 0.75]])
    df = pd.DataFrame({"name": ["a", "b"], "n": [1, 2]})
    a = cairn.Artifact("tables", "dataset")
    a.add(table, "scores")
    a["frame"] = df
    assert sorted(a.manifest) == ["frame.table.json", "scores.table.json"]
    assert a.get("scores") == table  # readable before logging too
    with pytest.raises(TypeError, match="dict"):
        a.add({"not": "a table"}, "x")
    with cairn.init() as run:
        run.log_artifact(a)
    got = cairn.Api().artifact("tables:latest")
    assert got.get("scores") == table
    assert got["frame"].columns == ["name", "n"]
    assert got.get("frame").get_dataframe().equals(df)
    assert got.get("frame.table.json") == got.get("frame")
    assert got.get("missing") is None


# -- reading a committed artifact -------------------------------------------------------------


def test_identity_and_reading_properties():
    files = {"a.txt": "aaa", "dir/b.txt": "bb", "dir/sub/c.txt": "c"}
    a = log(files, aliases=["best"], description="d", metadata={"k": 1})
    for got in (a, cairn.Api().artifact("data:best")):
        assert got.name == "data:v0"
        assert got.version == "v0"
        assert got.qualified_name == f"{cairn.Api().entity}/uncategorized/data:v0"
        assert got.source_name == "data:v0" and got.collection_name == "data"
        assert got.state == "COMMITTED"
        assert got.type == "dataset"
        assert got.size == 6 and got.file_count == 3
        assert got.digest.startswith("blake3:") and len(got.digest) == 7 + 64
        assert sorted(got.manifest) == sorted(files)
        assert got.manifest["dir/b.txt"].size == 2
        e = got.get_entry("dir/sub/c.txt")
        assert (e.path, e.size, e.ref) == ("dir/sub/c.txt", 1, None)
        assert e.digest == "blake3:" + blake3.blake3(b"c").hexdigest()
        assert [x.path for x in got.manifest.get_entries_in_directory("dir")] == ["dir/b.txt", "dir/sub/c.txt"]
        assert got.manifest.to_manifest_json()["contents"]["a.txt"]["size"] == 3
        with pytest.raises(KeyError, match="nope"):
            got.get_entry("nope")
    # a new artifact before logging: a draft with the same digest as the logged one
    fresh = cairn.Artifact("data", "dataset")
    fresh.add_dir("src-data")
    assert fresh.state == "PENDING" and fresh.name == "data"
    with pytest.raises(AttributeError, match="Artifact.version"):  # W&B: ArtifactNotLoggedError
        fresh.version
    assert fresh.digest == a.digest and fresh.size == a.size
    with pytest.raises(cairn.ArtifactNotLoggedError, match="logged"):
        fresh.download()
    assert a.wait() is a
    with pytest.raises(cairn.UsageError, match="logged"):
        fresh.wait()


def test_download_with_path_prefix_and_default_root(tmp_path):
    log({"train/a.txt": "a", "train/b.txt": "b", "val/c.txt": "c", "trainx.txt": "x"})
    got = cairn.Api().artifact("data:latest")
    root = Path(got.download(tmp_path / "part", path_prefix="train/"))
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "train/a.txt",
        "train/b.txt",
    ]
    default = Path(got.download())
    assert default == Path("artifacts") / "data:v0"
    assert (default / "val/c.txt").read_text() == "c"


def test_checkout_removes_extra_files_and_verify_detects_mismatch(tmp_path):
    log({"a.txt": "a", "d/b.txt": "b"})
    got = cairn.Api().artifact("data:latest")
    root = tmp_path / "co"
    write(root / "extra.txt", "junk")
    write(root / "d/old/deep.txt", "junk")
    write(root / "a.txt", "stale content")
    got.checkout(root)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == ["a.txt", "d/b.txt"]
    assert not (root / "d/old").exists()
    assert (root / "a.txt").read_text() == "a"
    got.verify(root)
    (root / "a.txt").write_text("b")
    with pytest.raises(cairn.IntegrityError, match="a.txt"):
        got.verify(root)
    (root / "a.txt").write_text("a")
    write(root / "stray.txt", "s")
    with pytest.raises(cairn.IntegrityError, match="stray.txt"):
        got.verify(root)
    (root / "stray.txt").unlink()
    (root / "d/b.txt").unlink()
    with pytest.raises(cairn.IntegrityError, match="d/b.txt"):
        got.verify(root)


def test_file_and_files(tmp_path):
    one = log({"only.bin": b"\x01\x02"}, name="single")
    path = one.file(tmp_path / "f")
    assert Path(path) == tmp_path / "f" / "only.bin" and Path(path).read_bytes() == b"\x01\x02"
    many = log({"a.txt": "a", "b/c.txt": "c"}, name="many")
    with pytest.raises(cairn.UsageError, match="2"):
        many.file()
    files = many.files()
    assert [(f.name, f.size) for f in files] == [("a.txt", 1), ("b/c.txt", 1)]
    assert [f.name for f in many.files(names=["b/c.txt"])] == ["b/c.txt"]
    got = files[1].download(tmp_path / "one")
    assert Path(got).read_text() == "c"
    with pytest.raises(FileExistsError):
        files[1].download(tmp_path / "one")
    files[1].download(tmp_path / "one", replace=True)


def test_delete_moves_latest_back():
    log({"a.txt": "0"})
    log({"a.txt": "1"}, aliases=["best"])
    v2 = log({"a.txt": "2"})
    v2.delete()
    assert v2.state == "DELETED"
    assert cairn.Api().artifact("data:latest").version == "v1"
    assert not cairn.Api().artifact_exists("data:v2")
    v1 = cairn.Api().artifact("data:v1")
    with pytest.raises(cairn.UsageError, match="best"):
        v1.delete()
    assert cairn.Api().artifact("data:latest").version == "v1"
    v1.delete(delete_aliases=True)
    assert cairn.Api().artifact("data:latest").version == "v0"
    assert not cairn.Api().artifact_exists("data:best")
    assert [a.version for a in cairn.Api().artifacts("dataset", "data")] == ["v0"]
    with pytest.raises(cairn.ArtifactNotFoundError):
        v1.download()
    # numbers are never reused
    assert log({"a.txt": "3"}).version == "v3"
    # content of a deleted version logged again makes a new version
    assert log({"a.txt": "2"}).version == "v4"


def test_logged_by_and_used_by():
    write("a.txt", "a")
    with cairn.init(job_type="producer", config={"lr": 0.1}) as producer:
        a = cairn.Artifact("data", "dataset")
        a.add_file("a.txt")
        producer.log_artifact(a)
    with cairn.init(job_type="consumer") as c1:
        c1.use_artifact("data:latest")
    with cairn.init(job_type="consumer") as c2:
        c2.use_artifact("data:v0", type="dataset")
        with pytest.raises(cairn.UsageError, match="dataset"):
            c2.use_artifact("data:v0", type="model")
    got = cairn.Api().artifact("data:v0")
    by = got.logged_by()
    assert (by.id, by.job_type, by.config) == (producer.id, "producer", {"lr": 0.1})
    assert sorted(r.id for r in got.used_by()) == sorted([c1.id, c2.id])
    saved = cairn.Artifact("other", "dataset")
    saved.add_file("a.txt")
    saved.save()
    assert saved.logged_by().job_type == "auto"
    with pytest.raises(cairn.UsageError):
        cairn.Artifact("x", "dataset").logged_by()


# -- costs that follow what changed -----------------------------------------------------------


def tree_state(root: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()
    }


@pytest.mark.parametrize("fresh_cache", [False, True])
def test_download_into_a_matching_folder_rewrites_nothing(tmp_path, monkeypatch, fresh_cache):
    files = {f"d{i % 3}/f{i}.bin": os.urandom(100 + i) for i in range(30)}
    files["big.bin"] = os.urandom(300_000)
    log(files)
    got = cairn.Api().artifact("data:latest")
    root = Path(got.download(tmp_path / "dl"))
    before = tree_state(root)
    assert len(before) == 31
    time.sleep(0.01)
    if fresh_cache:  # another machine's cache (or none): matching files are found by hashing
        monkeypatch.setenv("CAIRN_CACHE_DIR", str(tmp_path / "other-cache"))
        from cairn.client import reset_clients

        reset_clients()
        got = cairn.Api().artifact("data:latest")
    got.download(root)
    assert tree_state(root) == before
    # one changed file is rewritten, the others are left alone
    (root / "d1/f1.bin").write_bytes(b"edited")
    got.download(root)
    after = tree_state(root)
    assert (root / "d1/f1.bin").read_bytes() == files["d1/f1.bin"]
    assert {p: s for p, s in after.items() if p != "d1/f1.bin"} == {p: s for p, s in before.items() if p != "d1/f1.bin"}


def _read_bytes_so_far() -> int:
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("rchar:")).split()[1])


def test_relogging_unchanged_files_does_not_read_them_again(tmp_path):
    src = tmp_path / "big"
    past = time.time() - 60  # older than the stat cache's racy window
    for i in range(8):
        p = write(src / f"f{i}.bin", os.urandom(2 << 20))
        os.utime(p, (past, past))
    for i in range(200):
        p = write(src / f"small/{i}.txt", f"row {i}\n" * 20)
        os.utime(p, (past, past))
    total = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    with cairn.init() as run:
        a = cairn.Artifact("data", "dataset")
        a.add_dir(src)
        run.log_artifact(a)
    # Change one file's bytes behind the stat cache's back (same size, mtime and inode): a
    # re-log that does not re-read unchanged files cannot notice, and logs the same version.
    p = src / "f3.bin"
    st = p.stat()
    with open(p, "r+b") as f:
        f.write(b"sneaky")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert p.stat().st_ino == st.st_ino
    read_before = _read_bytes_so_far()
    with cairn.init() as run:
        b = cairn.Artifact("data", "dataset")
        b.add_dir(src)
        run.log_artifact(b)
    read = _read_bytes_so_far() - read_before
    assert b.version == "v0" and b.digest == a.digest
    assert read < total / 10, f"re-log read {read} bytes of {total}"
    # a real change (new mtime) is noticed and only that file is read
    write(src / "f5.bin", os.urandom(2 << 20))
    os.utime(src / "f5.bin", (past + 1, past + 1))
    read_before = _read_bytes_so_far()
    with cairn.init() as run:
        c = cairn.Artifact("data", "dataset")
        c.add_dir(src)
        run.log_artifact(c)
    read = _read_bytes_so_far() - read_before
    assert c.version == "v1"
    assert (2 << 20) <= read < (2 << 20) + total / 10


def test_incremental_draft_reads_only_what_was_added(tmp_path):
    src = tmp_path / "big"
    past = time.time() - 60
    for i in range(6):
        os.utime(write(src / f"f{i}.bin", os.urandom(2 << 20)), (past, past))
    v0 = log({"seed.txt": "s"})
    with cairn.init() as run:
        a = cairn.Artifact("data", "dataset")
        a.add_dir(src)
        run.log_artifact(a)
    write("extra.txt", "new")
    read_before = _read_bytes_so_far()
    draft = cairn.Api().artifact("data:latest").new_draft()
    draft.add_file("extra.txt")
    draft.remove("f0.bin")
    draft.save()
    read = _read_bytes_so_far() - read_before
    assert draft.version == "v2" and v0.version == "v0"
    assert sorted(draft.manifest) == ["extra.txt", "f1.bin", "f2.bin", "f3.bin", "f4.bin", "f5.bin"]
    assert read < 2 << 20  # no big file was read again


def test_saving_an_old_handle_does_not_take_latest_back():
    log({"a.txt": "one"})
    stale = cairn.Api().artifact("data:latest")  # v0, carrying "latest"
    log({"a.txt": "two"})  # v1 takes latest
    stale.description = "edited later"
    stale.save()
    assert cairn.Api().artifact("data:latest").version == "v1"
    assert cairn.Api().artifact("data:v0").description == "edited later"

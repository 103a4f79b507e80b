"""Bad input is refused with an error that names the thing: names, types, aliases, paths
(from the caller, from a forged manifest, through a symlink), metadata, missing files,
corrupt blobs, files changing under us, and misuse of the distributed API."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from helpers import write

import cairn
from cairn.client import get_client
from cairn.core import manifest as mf


def log(files: dict[str, bytes | str], name: str = "data", type_: str = "dataset", **kw) -> cairn.Artifact:
    """Log the given files (entry name -> content) as one version, in a run of its own."""
    src = Path("src-" + name)
    for rel, data in files.items():
        write(src / rel, data)
    with cairn.init(project=kw.pop("project", None)) as run:
        a = cairn.Artifact(name, type_)
        a.add_dir(src)
        run.log_artifact(a, **kw)
    return a


# -- names, types, aliases --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, says",
    [
        ("", ["artifact name", "non-empty"]),
        ("x" * 129, ["artifact name", "129 characters", "at most 128"]),
        ("proj/data", ["'proj/data'", "'/'"]),
        ("data:v1", ["'data:v1'", "':'"]),
        ("my data", ["'my data'", "letters, digits"]),
        ("dätä!", ["'dätä!'", "letters, digits"]),
    ],
)
def test_bad_artifact_names(name, says):
    with pytest.raises(cairn.UsageError) as e:
        cairn.Artifact(name, "dataset")
    for part in says:
        assert part in str(e.value)


def test_name_of_128_characters_is_fine():
    a = log({"f.txt": "x"}, name="n" * 128)
    assert a.name == "n" * 128 + ":v0"


@pytest.mark.parametrize("type_", ["", "a/b", "a b", "t" * 129, None])
def test_bad_types(type_):
    with pytest.raises(cairn.UsageError, match="artifact type") as e:
        cairn.Artifact("data", type_)
    if type_:
        assert repr(type_) in str(e.value)


@pytest.mark.parametrize(
    "alias, says",
    [
        ("v3", "reserved"),
        ("a/b", "may not contain '/' or ':'"),
        ("a:b", "may not contain '/' or ':'"),
        ("", "non-empty"),
        ("a b", "without spaces"),
    ],
)
def test_bad_aliases_refused_everywhere(alias, says):
    write("f.txt", "x")
    # on the artifact
    a = cairn.Artifact("data", "dataset")
    with pytest.raises(cairn.UsageError, match="alias") as e:
        a.aliases = [alias]
    assert says in str(e.value)
    # at log time: nothing is committed
    a.add_file("f.txt")
    with cairn.init() as run:
        with pytest.raises(cairn.UsageError, match="alias") as e:
            run.log_artifact(a, aliases=[alias])
        assert says in str(e.value)
        if alias:
            assert repr(alias) in str(e.value)
    assert not cairn.Api().artifact_exists("data")
    # on a committed version, through save(): the version keeps its aliases
    good = log({"f.txt": "x"}, aliases=["best"])
    with pytest.raises(cairn.UsageError, match="alias"):
        good.aliases = ["best", alias]
    assert cairn.Api().artifact("data:latest").aliases == ["latest", "best"]


def test_one_name_with_two_types_in_a_project():
    log({"f.txt": "x"}, name="thing", type_="dataset")
    write("g.txt", "y")
    with cairn.init() as run:
        a = cairn.Artifact("thing", "model")
        a.add_file("g.txt")
        with pytest.raises(cairn.ConflictError) as e:
            run.log_artifact(a)
    msg = str(e.value)
    assert "thing" in msg and "'dataset'" in msg and "'model'" in msg
    assert cairn.Api().artifact("thing:latest").type == "dataset"
    assert len(cairn.Api().artifacts("dataset", "thing")) == 1
    # the same name with another type in another project is a different artifact
    other = log({"f.txt": "x"}, name="thing", type_="model", project="elsewhere")
    assert (other.project, other.type) == ("elsewhere", "model")


# -- files and folders -------------------------------------------------------------------------


def test_add_file_of_a_missing_file():
    a = cairn.Artifact("data", "dataset")
    with pytest.raises(FileNotFoundError) as e:
        a.add_file("nope/missing.txt")
    assert "nope/missing.txt" in str(e.value) and "'data'" in str(e.value)
    assert len(a.manifest) == 0


def test_add_file_of_a_folder():
    write("folder/x.txt", "x")
    a = cairn.Artifact("data", "dataset")
    with pytest.raises(IsADirectoryError) as e:
        a.add_file("folder")
    assert "'folder'" in str(e.value) and "add_dir" in str(e.value)


def test_add_dir_of_a_file():
    write("file.txt", "x")
    a = cairn.Artifact("data", "dataset")
    with pytest.raises(NotADirectoryError) as e:
        a.add_dir("file.txt")
    assert "'file.txt'" in str(e.value) and "add_file" in str(e.value)


def test_add_dir_with_a_file_name_that_is_not_utf8(tmp_path):
    folder = tmp_path / "data"
    write(folder / "ok.txt", "fine")
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.txt"), "wb") as f:  # Latin-1 bytes
        f.write(b"x")
    a = cairn.Artifact("data", "dataset")
    with pytest.raises(cairn.InvalidPathError) as e:
        a.add_dir(folder)
    assert "caf" in str(e.value) and "not valid UTF-8" in str(e.value) and "rename" in str(e.value)
    assert len(a.manifest) == 0  # nothing half-added


HOSTILE = ["../x", "/abs", "", "a/../../b"]


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_entry_names_from_the_caller(path):
    write("f.txt", "x")
    a = cairn.Artifact("data", "dataset")
    with pytest.raises(cairn.InvalidPathError) as e:
        a.add_file("f.txt", name=path)
    assert e.value.path == path
    assert repr(path) in str(e.value)
    with pytest.raises(cairn.InvalidPathError):
        with a.new_file(path or "/") as f:
            f.write("x")
    with pytest.raises(cairn.InvalidPathError):
        a.add_dir(".", name=path or "/")
    assert len(a.manifest) == 0


def forge_version(ref: str, entries: list[mf.Entry]) -> None:
    """Point a committed version at a manifest written straight into the chunk store, as a
    hostile or damaged store (or server) could."""
    client = get_client()
    v = cairn.Api().artifact(ref)
    chunks: dict[str, bytes] = {}
    root = mf.build(sorted(entries, key=lambda e: e.path), chunks.__setitem__)
    client.meta.put_chunks(chunks)
    with client.meta.write() as tx:
        tx.execute("UPDATE versions SET manifest_key = :k WHERE id = :v", {"k": root.key, "v": int(v.id)})


@pytest.mark.parametrize("hostile", ["../x", "/abs", "", "a/../../b"])
def test_forged_manifest_paths_never_write_outside_the_root(tmp_path, hostile):
    log({"ok.txt": "fine"})
    digest, size = get_client().ingest_bytes(b"evil bytes")
    outside = tmp_path / "outside"
    outside.mkdir()
    if hostile == "/abs":
        hostile = str(outside / "abs.txt")  # an absolute path that would land in this test's folder
    forge_version("data:v0", [mf.Entry("ok.txt", digest, size), mf.Entry(hostile, digest, size)])
    root = tmp_path / "dl" / "root"
    a = cairn.Api().artifact("data:v0")
    with pytest.raises(cairn.InvalidPathError) as e:
        a.download(root)
    assert e.value.path == hostile
    assert repr(hostile) in str(e.value)
    for escaped in (tmp_path / "dl" / "x", tmp_path / "dl" / "b", outside / "abs.txt", tmp_path / "x", tmp_path / "b"):
        assert not escaped.exists()
    assert sorted(p.name for p in outside.iterdir()) == []
    with pytest.raises(cairn.InvalidPathError):
        a.checkout(root)
    entry = a.manifest[hostile]
    with pytest.raises(cairn.InvalidPathError):
        entry.download(root)
    assert not any(p.is_file() for p in (tmp_path / "dl").rglob("*") if p.parent != root)


def test_symlinked_folder_in_the_download_root_pointing_outside(tmp_path):
    log({"link/secret.txt": "payload", "plain.txt": "p"})
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    a = cairn.Api().artifact("data:latest")
    with pytest.raises(cairn.InvalidPathError) as e:
        a.download(root)
    assert e.value.path == "link/secret.txt"
    assert "link/secret.txt" in str(e.value) and "outside" in str(e.value)
    assert list(outside.iterdir()) == []
    with pytest.raises(cairn.InvalidPathError):
        a.download(root, path_prefix="link/")
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("size", [100, 200_000])
@pytest.mark.parametrize("dangling", [False, True])
def test_symlinked_file_in_the_download_root_is_replaced_not_followed(tmp_path, size, dangling):
    content = os.urandom(size)
    log({"model.bin": content})
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "victim.bin"
    if not dangling:
        target.write_bytes(b"do not touch")
    root = tmp_path / "root"
    root.mkdir()
    (root / "model.bin").symlink_to(target)
    cairn.Api().artifact("data:latest").download(root)
    assert not (root / "model.bin").is_symlink()
    assert (root / "model.bin").read_bytes() == content
    if dangling:
        assert not target.exists()
    else:
        assert target.read_bytes() == b"do not touch"


# -- metadata ----------------------------------------------------------------------------------


def test_metadata_with_too_many_keys():
    too_many = {f"k{i}": i for i in range(101)}
    with pytest.raises(cairn.UsageError) as e:
        cairn.Artifact("data", "dataset", metadata=too_many)
    assert "101" in str(e.value) and "100" in str(e.value) and "metadata" in str(e.value)
    a = cairn.Artifact("data", "dataset", metadata={f"k{i}": i for i in range(100)})  # 100 is fine
    with pytest.raises(cairn.UsageError, match="101"):
        a.metadata = too_many
    assert len(a.metadata) == 100


@pytest.mark.parametrize("value", [object(), {1, 2}, float("nan"), b"bytes"])
def test_metadata_with_non_json_values(value):
    with pytest.raises(cairn.UsageError) as e:
        cairn.Artifact("data", "dataset", metadata={"bad_key": value})
    assert "metadata" in str(e.value) and "JSON" in str(e.value)
    assert "bad_key" in str(e.value)


def test_metadata_mutated_in_place_is_checked_at_log_and_save():
    write("f.txt", "x")
    a = cairn.Artifact("data", "dataset")
    a.add_file("f.txt")
    a.metadata["when"] = object()
    with cairn.init() as run:
        with pytest.raises(cairn.UsageError, match="when"):
            run.log_artifact(a)
    assert not cairn.Api().artifact_exists("data")
    good = log({"f.txt": "x"})
    good.metadata["bad"] = {1, 2}
    with pytest.raises(cairn.UsageError, match="bad"):
        good.save()
    assert cairn.Api().artifact("data:v0").metadata == {}


def test_metadata_keys_must_be_strings():
    with pytest.raises(cairn.UsageError, match="keys must be strings"):
        cairn.Artifact("data", "dataset", metadata={1: "x"})


# -- corrupt blobs -----------------------------------------------------------------------------


def blob_dir() -> Path:
    return Path(os.environ["CAIRN_DIR"]) / "blobs"


def corrupt_large(digest: str) -> Path:
    hexd = digest.partition(":")[2]
    p = blob_dir() / "objects" / hexd[:2] / hexd[2:]
    assert p.is_file() and (p.stat().st_mode & 0o777) == 0o444  # stored blobs are read-only
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    os.chmod(p, 0o644)
    p.write_bytes(bytes(data))
    os.chmod(p, 0o444)
    return p


def corrupt_small(digest: str) -> None:
    db = sqlite3.connect(blob_dir() / "packs.sqlite")
    try:
        (data,) = db.execute("SELECT data FROM blobs WHERE digest = ?", (digest,)).fetchone()
        with db:
            # flip the first byte (setting it to b"X" left it unchanged when it was one already:
            # 1 run in 256 of a random blob)
            db.execute(
                "UPDATE blobs SET data = ? WHERE digest = ?", (bytes([data[0] ^ 0xFF]) + bytes(data)[1:], digest)
            )
    finally:
        db.close()


@pytest.mark.parametrize("size", [1000, 300_000])
def test_corrupt_blob_on_disk_is_refused_at_download(tmp_path, size):
    content = os.urandom(size)
    a = log({"sub/weights.bin": content, "ok.txt": "fine"})
    digest = a.get_entry("sub/weights.bin").digest
    corrupt_small(digest) if size < 64 * 1024 else corrupt_large(digest)
    root = tmp_path / "dl"
    with pytest.raises(cairn.IntegrityError) as e:
        cairn.Api().artifact("data:latest").download(root)
    msg = str(e.value)
    assert "sub/weights.bin" in msg and "corrupt" in msg and digest in msg
    assert e.value.path == "sub/weights.bin" and e.value.digest == digest
    # no partial file, no temp file left behind
    assert not (root / "sub" / "weights.bin").exists()
    leftovers = [p for p in root.rglob("*") if p.is_file() and p.name != "ok.txt"]
    assert leftovers == []
    # a file already in place is not replaced by the corrupt bytes either
    write(root / "sub" / "weights.bin", b"previous")
    with pytest.raises(cairn.IntegrityError):
        cairn.Api().artifact("data:latest").get_entry("sub/weights.bin").download(root)
    assert (root / "sub" / "weights.bin").read_bytes() == b"previous"
    assert [p.name for p in (root / "sub").iterdir()] == ["weights.bin"]


def test_corrupt_table_blob_is_refused_by_get():
    with cairn.init() as run:
        a = cairn.Artifact("tables", "dataset")
        a.add(cairn.Table(columns=["a"], data=[[1], [2]]), "scores")
        run.log_artifact(a)
    corrupt_small(a.get_entry("scores.table.json").digest)
    with pytest.raises(cairn.IntegrityError, match="scores.table.json"):
        cairn.Api().artifact("tables:latest").get("scores")


# -- files that change, remove, distributed misuse -------------------------------------------


@pytest.mark.parametrize("size", [10, 200_000])
def test_file_changed_between_add_and_log_logs_what_was_added(tmp_path, size):
    original = os.urandom(size)
    p = write("data.bin", original)
    a = cairn.Artifact("data", "dataset")
    a.add_file(p)
    p.write_bytes(os.urandom(size))  # same size, other bytes
    write("other.bin", original + b"!")
    a.add_file("other.bin")
    Path("other.bin").write_bytes(b"shrunk")  # another size
    with cairn.init() as run:
        run.log_artifact(a)
    root = Path(cairn.Api().artifact("data:latest").download(tmp_path / "dl"))
    assert (root / "data.bin").read_bytes() == original
    assert (root / "other.bin").read_bytes() == original + b"!"
    assert a.get_entry("data.bin").size == size


def test_remove_of_a_path_that_does_not_exist():
    write("a/x.txt", "x")
    a = cairn.Artifact("data", "dataset")
    a.add_dir("a", name="a")
    for missing in ("nope.txt", "nope/", "a/x", "a/x.txt/"):
        with pytest.raises(FileNotFoundError) as e:
            a.remove(missing)
        assert repr(missing) in str(e.value) and "'data'" in str(e.value)
    assert list(a.manifest) == ["a/x.txt"]
    # in a draft of a committed version too
    log({"keep.txt": "k", "dir/y.txt": "y"})
    draft = cairn.Api().artifact("data:latest").new_draft()
    for missing in ("nope.txt", "nope/", "dir/z.txt"):
        with pytest.raises(FileNotFoundError, match=repr(missing)):
            draft.remove(missing)
    draft.remove("dir/")
    with pytest.raises(FileNotFoundError, match="dir/y.txt"):
        draft.remove("dir/y.txt")
    assert list(draft.manifest) == ["keep.txt"]


def test_upsert_without_distributed_id_or_group():
    write("f.txt", "x")
    with cairn.init() as run:
        a = cairn.Artifact("data", "dataset")
        a.add_file("f.txt")
        with pytest.raises(TypeError) as e:
            run.upsert_artifact(a)
        assert "distributed_id" in str(e.value) and "group" in str(e.value)
        with pytest.raises(TypeError, match="distributed_id"):
            run.finish_artifact(a)
    with cairn.init(group="g1") as run:  # the group is the default distributed id
        a = cairn.Artifact("data", "dataset")
        a.add_file("f.txt")
        run.upsert_artifact(a)
        assert a.distributed_id == "g1"
        done = run.finish_artifact(cairn.Artifact("data", "dataset"))
    assert list(done.manifest) == ["f.txt"]


def test_upsert_to_a_finished_distributed_version_names_it():
    write("f.txt", "x")
    with cairn.init() as run:
        a = cairn.Artifact("data", "dataset")
        a.add_file("f.txt")
        run.finish_artifact(a, distributed_id="once")
        b = cairn.Artifact("data", "dataset")
        b.add_file("f.txt", name="g.txt")
        with pytest.raises(cairn.LockedError) as e:
            run.upsert_artifact(b, distributed_id="once")
    assert "'data'" in str(e.value) and "'once'" in str(e.value) and "v0" in str(e.value)


def test_editing_a_committed_artifact_is_locked():
    a = log({"f.txt": "x"})
    with pytest.raises(cairn.LockedError) as e:
        a.add_file("src-data/f.txt", name="g.txt")
    assert "data:v0" in str(e.value) and "new_draft" in str(e.value)
    with pytest.raises(cairn.LockedError):
        a.remove("f.txt")


def test_bad_references():
    a = cairn.Artifact("data", "dataset")
    with pytest.raises(cairn.UsageError) as e:
        a.add_reference("ftp://host/file")
    assert "'ftp'" in str(e.value) and "file, s3, http, https" in str(e.value)
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        a.add_reference("file:///nothing-here/x")


def test_bad_refs_in_api():
    for ref, says in [
        ("a/b/c/d", "too many '/'"),
        ("data:", "empty alias"),
        ("da ta", "letters"),
        ("p q/data", "project name"),
    ]:
        with pytest.raises(cairn.UsageError, match=says):
            cairn.Api().artifact(ref)
    with pytest.raises(cairn.ArtifactNotFoundError) as e:
        cairn.Api().artifact("nothing:latest")
    assert "nothing" in str(e.value)
    log({"f.txt": "x"})
    with pytest.raises(cairn.ArtifactNotFoundError, match="v7"):
        cairn.Api().artifact("data:v7")
    with pytest.raises(cairn.ArtifactNotFoundError, match="nope"):
        cairn.Api().artifact("data:nope")


def test_metadata_json_in_store_is_plain_json():
    """What is accepted is stored as plain JSON (numpy-like and datetime values converted)."""
    import datetime

    write("f.txt", "x")
    with cairn.init() as run:
        a = cairn.Artifact("data", "dataset", metadata={"when": datetime.date(2024, 1, 2), "n": 3})
        a.add_file("f.txt")
        run.log_artifact(a)
    got = cairn.Api().artifact("data:latest").metadata
    assert got == {"when": "2024-01-02", "n": 3}
    json.dumps(got)

"""The preview modules, the thumbnail maker and the tar stream without a server: bad and
huge input is refused or bounded with a message, never a crash."""

from __future__ import annotations

import io
import json
import struct
import tarfile
import zlib

import pytest

from cairn.core.errors import IntegrityError
from cairn.core.manifest import Entry
from cairn.server import archive, previews
from cairn.server.previews import parquet, tabular, wandb_table


def build(path: str, data: bytes) -> previews.Preview:
    return previews.build(path, len(data), lambda at, n: data[at : at + n], "/raw")


def _parquet(rows: list[dict], row_group_size: int | None = None) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), out, row_group_size=row_group_size)
    return out.getvalue()


def test_parquet_reads_footer_and_first_rows_only() -> None:
    import pyarrow.parquet as pq

    data = _parquet(
        [{"i": i, "s": f"row {i}", "f": i / 2, "b": bool(i % 2), "l": [i]} for i in range(60000)], row_group_size=20000
    )
    asked: list[tuple[int, int]] = []
    p = previews.build("x.parquet", len(data), lambda at, n: (asked.append((at, n)), data[at : at + n])[1], "/raw")
    assert p.kind == "table" and p.ctx["error"] is None
    assert p.ctx["columns"] == [
        ("i", "int64"),
        ("s", "string"),
        ("f", "double"),
        ("b", "bool"),
        ("l", "list<element: int64>"),
    ]
    assert p.ctx["count"] == 60000 and p.ctx["exact"] and len(p.ctx["rows"]) == tabular.ROWS
    assert p.ctx["rows"][3] == ["3", "row 3", "1.5", "true", "[3]"]
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    second = min(meta.row_group(1).column(c).data_page_offset for c in range(meta.num_columns))
    footer = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    assert second < footer - 65536  # the file is large enough for the check below to mean something
    for at, n in asked:  # nothing of the second and third row groups is read
        assert at + n <= second or at >= footer - 65536, (at, n, second, footer)


def test_parquet_over_budget_shows_schema_and_count(monkeypatch) -> None:  # noqa: ANN001
    import os

    data = _parquet([{"s": os.urandom(500).hex(), "i": i} for i in range(3000)])
    monkeypatch.setattr(parquet, "BUDGET", 256 * 1024)
    p = build("big.parquet", data)
    assert p.ctx["count"] == 3000 and p.ctx["rows"] == [] and "schema and row count only" in p.ctx["note"]
    assert "not readable as Parquet" in build("bad.parquet", b"PAR1" + b"\0" * 100).ctx["error"]


def test_jsonl_columns_types_and_bad_lines() -> None:
    p = build("e.jsonl", b'{"a": 1, "b": "x"}\n\n{"a": 2.5, "c": null}\n[1, 2]\n')
    assert p.ctx["columns"] == [("a", "float"), ("b", "string"), ("c", "empty"), ("value", "array")]
    assert p.ctx["rows"] == [["1", "x", "", ""], ["2.5", "", "", ""], ["", "", "", "[1, 2]"]]
    assert p.ctx["count"] == 3
    assert build("e.ndjson", b'{"a": 1}\n{oops\n').ctx["error"].startswith("line 2 is not valid JSON")


def test_wandb_table_with_column_types_and_bad_tables() -> None:
    obj = {
        "_type": "table",
        "columns": ["a", "b"],
        "data": [[1, None], [2, "y"]],
        "ncols": 2,
        "nrows": 2,
        "column_types": {
            "params": {
                "type_map": {
                    "a": {"wb_type": "number"},
                    "b": {
                        "wb_type": "union",
                        "params": {"allowed_types": [{"wb_type": "none"}, {"wb_type": "string"}]},
                    },
                }
            },
            "wb_type": "typedDict",
        },
    }
    p = build("t.table.json", json.dumps(obj).encode())
    assert p.ctx["columns"] == [("a", "float"), ("b", "string")] and p.ctx["rows"] == [["1", ""], ["2", "y"]]
    assert p.ctx["note"] == "wandb.Table"
    assert "not a wandb.Table" in build("t.table.json", b'{"_type": "image-file"}').ctx["error"]
    assert "list of rows" in build("t.table.json", b'{"_type": "table", "columns": ["a"], "data": 5}').ctx["error"]
    huge = b'{"_type": "table", "columns": ["a"], "data": [' + b"[1]," * (wandb_table.LIMIT // 4) + b"[1]]}"
    assert "more than the preview parses" in build("t.table.json", huge).ctx["error"]
    assert build("plain.json", json.dumps(obj).encode()).kind == "json"  # only *.table.json is a table


def test_json_tree_is_bounded_and_escaped() -> None:
    p = build("big.json", json.dumps({"k": list(range(20000)), "<b>": "</ul><script>"}).encode())
    assert p.ctx["cut"] > 0 and p.ctx["tree"].count("<li>") <= 5001
    html = str(build("x.json", b'{"<b>": "</ul><script>x</script>"}').ctx["tree"])
    assert "<script>" not in html and "&lt;/ul&gt;&lt;script&gt;" in html and "&#34;&lt;b&gt;&#34;" in html
    deep = b"[" * 200 + b"]" * 200
    assert "too deep to draw" in str(build("deep.json", deep).ctx["tree"])
    assert "nested too deeply" in build("deeper.json", b"[" * 100000 + b"]" * 100000).ctx["error"]


def test_cells_are_bounded_text() -> None:
    assert tabular.cell("x" * 2000).endswith("…") and len(tabular.cell("x" * 2000)) == tabular.MAX_CELL
    assert tabular.cell(b"\x00\xff" * 40).startswith("00 ff") and tabular.cell(float("nan")) == "nan"
    assert tabular.cell({"a": [1]}) == '{"a": [1]}' and tabular.cell(None) == "" and tabular.cell(True) == "true"


def _bomb_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_thumbnails_are_small_and_refuse_bombs_and_non_images() -> None:
    from PIL import Image

    from cairn.server.ui_folder import THUMB_PX, make_thumb

    out = io.BytesIO()
    Image.new("RGB", (1000, 500), (10, 200, 30)).save(out, format="JPEG")
    data, kind = make_thumb(out.getvalue())
    assert kind in ("image/webp", "image/png")
    assert Image.open(io.BytesIO(data)).size == (THUMB_PX, THUMB_PX // 2)
    assert make_thumb(_bomb_png(30000, 30000)) is None  # 900 M pixels declared: never decoded
    assert make_thumb(b"<html>not an image</html>") is None
    assert make_thumb(_bomb_png(40, 40)) is None  # truncated pixel data: Pillow refuses, no crash


def test_tar_stream_round_trips_long_and_unicode_names() -> None:
    blobs = {"blake3:a": b"x" * 1000, "blake3:b": b"", "blake3:c": "ünï".encode() * 300}
    entries = [
        Entry("p/" + "long/" * 30 + "f.txt", "blake3:a", 1000),
        Entry("p/empty", "blake3:b", 0),
        Entry("p/ü/名前.txt", "blake3:c", len(blobs["blake3:c"])),
        Entry("p/r", "uri:x", 3, "s3://b/k"),
    ]
    data = b"".join(archive.tar_stream(entries, "p/", "root", lambda d: io.BytesIO(blobs[d]), mtime=0))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        got = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    assert got.pop("root/CAIRN-REFERENCES.txt").decode().endswith("r\ts3://b/k\n")
    assert got == {
        "root/" + "long/" * 30 + "f.txt": blobs["blake3:a"],
        "root/empty": b"",
        "root/ü/名前.txt": blobs["blake3:c"],
    }


@pytest.mark.parametrize("stored", [b"short", b"x" * 11])
def test_tar_stream_cuts_the_transfer_when_a_blob_has_the_wrong_length(stored: bytes) -> None:
    stream = archive.tar_stream([Entry("f", "blake3:a", 10)], "", "root", lambda d: io.BytesIO(stored))
    with pytest.raises(IntegrityError):
        for _ in stream:
            pass


def test_byte_range_header() -> None:
    from cairn.server.blob_reads import byte_range

    assert byte_range("bytes=0-9", 100) == (0, 9)
    assert byte_range("bytes=90-", 100) == (90, 99)
    assert byte_range("bytes=90-500", 100) == (90, 99)
    assert byte_range("bytes=-10", 100) == (90, 99)
    assert byte_range("bytes=-500", 100) == (0, 99)
    assert byte_range("bytes=100-", 100) == "unsatisfiable"
    assert byte_range("bytes=-0", 100) == "unsatisfiable"
    for bad in (
        None,
        "",
        "bytes=",
        "bytes=-",
        "bytes=a-b",
        "bytes=5-1",
        "items=0-1",
        "bytes=0-1,5-6",
        "bytes=１-2",
        "bytes=" + "9" * 30 + "-",
    ):
        assert byte_range(bad, 100) is None, bad


def test_archive_prefetch_reads_small_blobs_in_batches(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from cairn.server import ui_archive
    from cairn.storage.blobs.local import LocalBlobStore

    monkeypatch.setattr(ui_archive, "BATCH_FILES", 7)
    s = LocalBlobStore(tmp_path / "blobs")
    try:
        items = [(f"f{i:03d}", bytes([i]) * (i + 1)) for i in range(30)] + [("big", b"b" * (ui_archive.SMALL + 5))]
        entries = [Entry(p, s.put_bytes(d)[0], len(d)) for p, d in items]
        s.flush()
        calls: list[int] = []
        real = s.read_small
        s.read_small = lambda ds: (calls.append(len(ds)), real(ds))[1]  # type: ignore[method-assign]
        walk, open_blob = ui_archive.prefetched(iter(entries), s)
        data = b"".join(archive.tar_stream(walk, "", "r", open_blob, mtime=0))
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            assert {m.name: tar.extractfile(m).read() for m in tar.getmembers()} == {f"r/{p}": d for p, d in items}
        assert calls == [7, 7, 7, 7, 2]  # 31 entries in batches of 7; the large blob is opened on its own
    finally:
        s.close()

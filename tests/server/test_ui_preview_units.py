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
from cairn.server.previews import parquet, stream, tabular


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
    assert "list of rows" in build("t.table.json", b'{"_type": "table", "columns": ["a"], "data": [5]}').ctx["error"]
    assert "not valid JSON" in build("t.table.json", b'{"_type": "table", "columns": ["a"], "data": [[1],').ctx["error"]
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

    from cairn.server.folder_view import THUMB_PX, make_thumb

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


def test_archive_prefetch_without_read_small_reads_small_blobs_concurrently(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """A store without ``read_small`` (S3): a batch's small blobs are read on several threads at
    once (synchronised on a barrier every reader must reach), the archive's bytes unchanged."""
    import threading

    from cairn.server import ui_archive
    from cairn.storage.blobs.local import LocalBlobStore

    monkeypatch.setattr(ui_archive, "BATCH_FILES", 8)
    monkeypatch.setattr(ui_archive, "FETCHERS", 4)
    s = LocalBlobStore(tmp_path / "blobs")
    try:
        items = [(f"f{i:03d}", bytes([i]) * (i + 1)) for i in range(16)]
        entries = [Entry(p, s.put_bytes(d)[0], len(d)) for p, d in items]
        s.flush()
        barrier = threading.Barrier(4, timeout=20)  # four reads in flight together, or it breaks
        threads: set[str] = set()

        class NoReadSmall:  # what the S3 store offers: open, no read_small
            def open(self, digest: str):  # noqa: ANN202
                threads.add(threading.current_thread().name)
                barrier.wait()
                return s.open(digest)

        walk, open_blob = ui_archive.prefetched(iter(entries), NoReadSmall())  # type: ignore[arg-type]
        data = b"".join(archive.tar_stream(walk, "", "r", open_blob, mtime=0))
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            assert {m.name: tar.extractfile(m).read() for m in tar.getmembers()} == {f"r/{p}": d for p, d in items}
        assert len(threads) >= 4 and not barrier.broken  # 4 at a time (a pool per batch)
    finally:
        s.close()


# -- tables a page at a time, read from the store with bounded memory ---------------------


def page(path: str, data: bytes, first: int, asked: list | None = None) -> previews.Preview:
    def read_at(at: int, n: int) -> bytes:
        if asked is not None:
            asked.append((at, n))
        return data[at : at + n]

    return previews.build(path, len(data), read_at, "/raw", first)


def test_a_wandb_table_over_8_mib_shows_any_page_with_its_count() -> None:
    n = 60_000
    pad = "x" * 150
    rows = ",".join(f'[{i}, "row {i}", {i / 4}, "{pad}"]' for i in range(n))
    data = (
        '{"_type": "table", "columns": ["i", "s", "f", "pad"], "data": [' + rows + f'], "ncols": 3, "nrows": {n}}}'
    ).encode()
    assert len(data) > 8 << 20
    p = page("t.table.json", data, 0)
    assert p.ctx["rows"][0] == ["0", "row 0", "0.0", pad] and len(p.ctx["rows"]) == tabular.PAGE
    assert p.ctx["count"] >= tabular.PAGE and not p.ctx["exact"] and p.ctx["more"]  # counted past the page only so far
    asked: list = []
    page("t.table.json", data, 59_950, asked)
    assert len(asked) <= 1 + len(data) // stream.CHUNK + 2, len(asked)  # read ahead a MiB at a time
    p = page("t.table.json", data, 59_950)  # rounds down to its page
    assert p.ctx["first"] == 59_900 and p.ctx["rows"][-1] == ["59999", "row 59999", "14999.75", pad]
    assert p.ctx["count"] == n and p.ctx["exact"] and not p.ctx["more"]
    assert p.ctx["columns"] == [("i", "int"), ("s", "string"), ("f", "float"), ("pad", "string")]
    assert "no row 60,101" in page("t.table.json", data, 60_100).ctx["error"]


def test_csv_pages_stream_and_count_within_budgets(monkeypatch) -> None:  # noqa: ANN001
    data = ("n,quoted\n" + "".join(f'{i},"a\nb {i}"\n' for i in range(5000))).encode()  # newlines in cells
    p = page("t.csv", data, 4_950)
    assert p.ctx["rows"][0] == ["4900", "a\nb 4900"] and p.ctx["rows"][-1][0] == "4999"
    assert p.ctx["count"] == 5000 and p.ctx["exact"] and not p.ctx["more"] and p.ctx["first"] == 4900
    assert "no row 5,001" in page("t.csv", data, 5_000).ctx["error"]
    p = page("t.csv", data + b"\xff\xfe,1\n", 0)  # a bad row past the page ends the count only
    assert p.ctx["error"] is None and tabular.PAGE <= p.ctx["count"] <= 5000 and not p.ctx["exact"]
    assert "not UTF-8 text" in page("t.csv", b"a\n1\n\xff\n", 0).ctx["error"]
    huge_cell = b"a,b\n1,2\n" + b'1,"' + b"x" * 200_000 + b'"\n'
    assert "field larger than field limit" in page("t.csv", huge_cell, 0).ctx["error"]

    five_gib = 5 << 30
    line = b"1," + b"2" * 61 + b"\n"
    asked: list[tuple[int, int]] = []

    def huge(at: int, n: int) -> bytes:
        asked.append((at, n))
        head = b"a,b\n" if at == 0 else b""
        return (head + line * (n // 64 + 1))[:n]

    p = previews.build("big.csv", five_gib, huge, "/raw", 0)
    assert p.ctx["rows"][0] == ["1", "2" * 61] and len(p.ctx["rows"]) == tabular.PAGE
    assert not p.ctx["exact"] and p.ctx["count"] > tabular.PAGE  # "at least"
    assert sum(n for _, n in asked) <= tabular.COUNT_BUDGET + 2 * stream.CHUNK
    # a MiB per ranged read (one GET on S3), not the 8 KiB a text reader asks for at a time
    assert len(asked) <= 1 + (tabular.COUNT_BUDGET // stream.CHUNK) + 2, len(asked)
    monkeypatch.setattr(tabular, "SCAN_BUDGET", 8 << 20)
    asked.clear()
    p = previews.build("big.csv", five_gib, huge, "/raw", 10**9)
    assert "past the first 8 MiB" in p.ctx["error"] and sum(n for _, n in asked) <= (8 << 20) + previews.SNIFF
    p = previews.build("big.csv", five_gib, huge, "/raw", 100_000)  # ~6 MiB in: within the budget
    assert p.ctx["first"] == 100_000 and p.ctx["rows"][0] == ["1", "2" * 61] and not p.ctx["exact"]


def test_jsonl_pages_and_long_lines(monkeypatch) -> None:  # noqa: ANN001
    from cairn.server.previews import jsonl

    data = b"".join(json.dumps({"i": i, "t": "<b>x</b>"}).encode() + b"\n\n" for i in range(1050))
    asked: list = []
    p = page("t.jsonl", data, 1000, asked)
    assert len(asked) <= 3  # the sniff, then the whole small file in one read
    assert [r[0] for r in p.ctx["rows"]] == [str(i) for i in range(1000, 1050)] and p.ctx["count"] == 1050
    bad = data + b"{oops\n"
    p = page("t.jsonl", bad, 0)  # a bad line off the page is counted, not parsed
    assert p.ctx["error"] is None and p.ctx["count"] == 1051
    assert page("t.jsonl", bad, 1050).ctx["error"].startswith("line 2,101 is not valid JSON")
    monkeypatch.setattr(jsonl, "MAX_LINE", 1000)
    assert "longer than" in page("t.jsonl", b'{"a": "' + b"x" * 2000 + b'"}\n', 0).ctx["error"]


def test_parquet_pages_read_only_their_row_groups() -> None:
    import pyarrow.parquet as pq

    data = _parquet([{"i": i, "s": f"row {i} " * 20} for i in range(6000)], row_group_size=1500)
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    starts = [min(meta.row_group(g).column(c).data_page_offset for c in range(2)) for g in range(4)]
    asked: list[tuple[int, int]] = []
    p = page("x.parquet", data, 2950, asked)  # rows 2900..2999: the end of group 1 and the start of group 2
    assert [r[0] for r in p.ctx["rows"]] == [str(i) for i in range(2900, 3000)]
    p = page("x.parquet", data, 4460, asked)  # straddles groups 2 and 3
    asked.clear()
    p = page("x.parquet", data, 4460, asked)
    assert [r[0] for r in p.ctx["rows"]] == [str(i) for i in range(4400, 4500)] and p.ctx["more"]
    footer = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    for at, n in asked[1:]:  # nothing of groups 0 and 1 is read (after the sniff of the first bytes)
        assert at >= starts[2] or at >= footer - 65536, (at, n, starts)
    p = page("x.parquet", data, 5999)
    assert p.ctx["rows"][-1][0] == "5999" and not p.ctx["more"] and p.ctx["count"] == 6000
    assert "no row 6,001" in page("x.parquet", data, 6000).ctx["error"]

"""The diff page, in Chromium: a folder added or removed whole is one row with its count; a
changed text file opens as a line diff, a changed CSV as a row diff, each read only up to
its bound; hostile lines stay text."""

from __future__ import annotations

import json
import re
from pathlib import Path

from helpers import write

import cairn

CSV_V0 = "id,name,score\n1,ann,0.5\n2,bob,0.7\n3,cy,0.9\n"
CSV_V1 = "id,name,score\n1,ann,0.5\n2,bob,0.75\n3,cy,0.9\n4,<b>dee</b>,=1+1\n"
TEXT_V0 = "".join(f"line {i}\n" for i in range(40))
TEXT_V1 = TEXT_V0.replace("line 20\n", "line twenty <script>alert(1)</script>\n")
BIG = 300 << 10  # over the 256 KiB compared
JSONL_V0 = '{"id": 1, "s": "a"}\n{"id": 2, "s": "b"}\n'
JSONL_V1 = '{"id": 1, "s": "a"}\n{"id": 2, "s": "<i>B</i>"}\n'
TABLE_V0 = {"_type": "table", "columns": ["k", "acc"], "data": [["x", 0.5], ["y", 0.6]]}
TABLE_V1 = {"_type": "table", "columns": ["k", "acc"], "data": [["x", 0.5], ["y", 0.6], ["z", 0.9]]}


def _parquet(rows: list[dict]) -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), out)
    return out.getvalue()


def build_store(home: Path) -> dict:
    work = home / "work"
    for i in range(5):
        write(work / f"v0/imgs/sub/i{i}.txt", f"img {i}")
    write(work / "v0/keep.txt", "same")
    write(work / "v0/notes.txt", TEXT_V0)
    write(work / "v0/data.csv", CSV_V0)
    write(work / "v0/big.log", "a\n" * (BIG // 2))
    (work / "v0/blob.bin").write_bytes(b"\x00\x01" * 10)
    write(work / "v0/tables/e.jsonl", JSONL_V0)
    write(work / "v0/tables/t.table.json", json.dumps(TABLE_V0))
    (work / "v0/tables/p.parquet").write_bytes(_parquet([{"n": 1, "v": 0.5}, {"n": 2, "v": 0.7}]))
    for i in range(3):
        write(work / f"v1/extra/e{i}.txt", f"extra {i}")
    write(work / "v1/keep.txt", "same")
    write(work / "v1/notes.txt", TEXT_V1)
    write(work / "v1/data.csv", CSV_V1)
    write(work / "v1/big.log", "a\n" * (BIG // 2 - 1) + "b\n")  # the change is past the compared head
    (work / "v1/blob.bin").write_bytes(b"\x00\x02" * 10)
    write(work / "v1/tables/e.jsonl", JSONL_V1)
    write(work / "v1/tables/t.table.json", json.dumps(TABLE_V1))
    (work / "v1/tables/p.parquet").write_bytes(_parquet([{"n": 1, "v": 0.5}, {"n": 2, "v": 0.8}, {"n": 3, "v": 0.1}]))
    with cairn.init(project="diffs") as run:
        for side in ("v0", "v1"):
            art = cairn.Artifact("set", "dataset")
            art.add_dir(str(work / side))
            run.log_artifact(art)
    return {}


def test_folders_fold_and_files_compare(ui_server, page) -> None:  # noqa: ANN001
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    url = ui_server.url
    page.goto(url + "/local/diffs/set/diff?a=v0&b=v1")
    assert page.locator("#count-added .count").inner_text() == "3"  # files, not rows
    assert page.locator("#count-removed .count").inner_text() == "5"
    folders = {r.get_attribute("data-kind"): r.inner_text() for r in page.locator("tr.diff-folder").all()}
    assert set(folders) == {"added", "removed"}
    assert "extra/" in folders["added"] and "3 files added" in folders["added"]
    assert "imgs/" in folders["removed"] and "5 files removed" in folders["removed"]
    assert page.locator("table.diff-table tbody tr").count() == 2 + 7  # two folders, seven changed files

    row = page.locator("tr[data-kind=changed]", has_text="notes.txt")
    row.get_by_role("link", name="compare").click()
    page.wait_for_url(re.compile(r".*/-/filediff/local/diffs/set\?.*path=notes.txt"))
    diff = page.locator("#line-diff")
    assert diff.locator(".ld-del").all_inner_texts() == ["-line 20"]
    assert diff.locator(".ld-add").all_inner_texts() == ["+line twenty <script>alert(1)</script>"]
    assert diff.locator(".ld-ctx").count() == 6 and page.locator("#diff-truncated").count() == 0

    page.goto(url + "/-/filediff/local/diffs/set?a=v0&b=v1&path=data.csv")
    assert page.locator("#file-diff").get_attribute("data-kind") == "table"
    assert [t.lower() for t in page.locator("#rows-added thead th").all_inner_texts()] == ["", "id", "name", "score"]
    removed = [r.split("\t")[1:] for r in page.locator("#rows-removed tbody tr").all_inner_texts()]
    added = [r.split("\t")[1:] for r in page.locator("#rows-added tbody tr").all_inner_texts()]
    assert removed == [["2", "bob", "0.7"]]
    assert added == [["2", "bob", "0.75"], ["4", "<b>dee</b>", "=1+1"]]
    assert page.locator("#file-diff b").count() == 0

    # JSON Lines, Parquet and wandb.Table files: a row diff too, of the rows the previews read
    for path, head, gone, new in (
        ("tables/e.jsonl", ["id", "s"], [["2", "b"]], [["2", "<i>B</i>"]]),
        ("tables/p.parquet", ["n", "v"], [["2", "0.7"]], [["2", "0.8"], ["3", "0.1"]]),
        ("tables/t.table.json", ["k", "acc"], [], [["z", "0.9"]]),
    ):
        page.goto(url + "/-/filediff/local/diffs/set?a=v0&b=v1&path=" + path)
        assert page.locator("#file-diff").get_attribute("data-kind") == "table", path
        assert [t.lower() for t in page.locator("#rows-added thead th").all_inner_texts()[1:]] == head, path
        assert [r.split("\t")[1:] for r in page.locator("#rows-removed tbody tr").all_inner_texts()] == gone, path
        assert [r.split("\t")[1:] for r in page.locator("#rows-added tbody tr").all_inner_texts()] == new, path
    assert page.locator("#file-diff i").count() == 0  # a cell's markup is text

    page.goto(url + "/-/filediff/local/diffs/set?a=v0&b=v1&path=big.log")
    assert page.locator("#file-diff").get_attribute("data-kind") == "same"
    assert "Only the first 256" in page.locator("#diff-truncated").inner_text()
    page.goto(url + "/-/filediff/local/diffs/set?a=v0&b=v1&path=blob.bin")
    assert page.locator("#file-diff").get_attribute("data-kind") == "binary"
    assert dialogs == [] and page.js_errors == []


def test_bad_file_diff_requests_are_4xx(ui_server, page) -> None:  # noqa: ANN001
    url = ui_server.url
    for query, status in (
        ("a=v0&b=v1&path=nope.txt", 404),
        ("a=v0&b=v1&path=imgs/sub/i0.txt", 404),
        ("a=v0&b=v9&path=notes.txt", 404),
        ("b=v1&path=notes.txt", 404),
        ("a=v0&b=v1", 404),
        ("a=%00&b=v1&path=x", 404),
    ):
        assert page.goto(url + "/-/filediff/local/diffs/set?" + query).status == status, query
    assert page.goto(url + "/-/filediff/local/nope/set?a=v0&b=v1&path=x").status == 404

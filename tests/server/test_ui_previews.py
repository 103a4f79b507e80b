"""File previews on a version's file page, in Debian's Chromium against a real server over an
embedded store: each kind renders, hostile content never executes, and the raw route's headers
are safe. Nothing is mocked."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from urllib.parse import quote

import pytest
from helpers import write

import cairn

SCRIPT_NAME = "<script>alert(1)</script>.txt"
EVIL_MD = """# Notes <script>alert(2)</script>

<img src=x onerror="alert(3)">
<a href="javascript:alert(4)">raw link</a>

[md link](javascript:alert(5)) and [safe](https://example.com/ok) and **bold**

| a | b |
|---|---|
| 1 | 2 |
"""
EVIL_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30" onload="alert(6)">'
    '<script>alert(7)</script><rect width="40" height="30" fill="red"/></svg>'
)
EVIL_CSV = 'name,formula,score\nann,"=HYPERLINK(""http://evil.example"",""x"")",1.5\nbob,=1+2,2\ncat,<b>x</b>,3\ndan,@SUM(A1),4\n'
HTML_FILE = "<html><body><script>alert(8)</script>hello</body></html>"
BIG_LINE = "0123456789abcdef" * 4 + "\n"
BIG_TEXT = BIG_LINE * 6000  # 390,000 bytes: more than the preview reads
BIN = bytes(range(256)) * 4


def _image(fmt: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (24, 16), (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


FILES = {
    "code/train.py": "def train(lr: float) -> None:\n    return None  # <not a tag>\n",
    SCRIPT_NAME: "plain <b>text</b> in a hostile name\n",
    "README.md": EVIL_MD,
    "img/pic.png": None,
    "img/pic.jpg": None,
    "img/pic.gif": None,
    "img/pic.webp": None,
    "img/evil.svg": EVIL_SVG,
    "img/fake.png": HTML_FILE,  # named like an image, is HTML
    "tables/data.csv": EVIL_CSV,
    "tables/data.tsv": "x\ty\n1\ttrue\n2\tfalse\n",
    "conf.json": json.dumps({"lr": 0.1, "layers": [1, 2], "name": "<script>alert(9)</script>"}),
    "broken.json": '{"a": ',
    "big.txt": BIG_TEXT,
    "blob.bin": BIN,
    "page.html": HTML_FILE,
    "tables/evil.jsonl": '{"name": "<img src=x onerror=alert(11)>", "n": 1}\n{"name": "=1+2", "n": 2.5, "extra": [1]}\n',
    "tables/evil.table.json": json.dumps(
        {"_type": "table", "columns": ["<b>col</b>", "v"], "data": [["<script>alert(12)</script>", 1], ["=SUM(A1)", 2]]}
    ),
    "tables/evil.parquet": None,
    '<img src=x onerror=alert(20)>/"&row=9.csv': "n\n" + "".join(f"{i}\n" for i in range(150)),
    "tables/long.csv": "n,name\n" + "".join(f"{i},<i>row {i}</i>\n" for i in range(250)),
    "tables/big.table.json": json.dumps(
        {"_type": "table", "columns": ["i", "pad"], "data": [[i, "p" * 200] for i in range(45_000)], "nrows": 45_000}
    ),
}
PARQUET_ROWS = [{"name": "<img src=x onerror=alert(13)>", "score": 0.5}, {"name": "@cmd", "score": 1.5}]
METADATA = {"note": "<img src=x onerror=alert(14)>", "link": "javascript:alert(15)"}
FORMATS = {"png": "PNG", "jpg": "JPEG", "gif": "GIF", "webp": "WEBP"}


def _parquet(rows: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), out)
    return out.getvalue()


def _add_files(work: Path) -> None:
    art = cairn.Artifact("files", "dataset", metadata=METADATA)
    for name, data in FILES.items():
        if data is None:
            data = _parquet(PARQUET_ROWS) if name.endswith(".parquet") else _image(FORMATS[name.rsplit(".", 1)[-1]])
        src = write(work / "src" / f"f{len(os.listdir(work / 'src')) if (work / 'src').exists() else 0}", data)
        art.add_file(str(src), name=name)
    art.save(project="demo")


def build_store(home: Path) -> dict:
    _add_files(home / "work")
    return {}


def build_store_with_users(home: Path) -> dict:
    from cairn.engine import accounts as auth
    from cairn.storage.meta.sql import MetaStore

    _add_files(home / "work")
    meta = MetaStore.sqlite(home / "meta.sqlite")
    try:
        alice = auth.create_user(meta, "alice")
        auth.add_member(meta, "local", "alice", "read")
        return {"alice": alice, "bob": auth.create_user(meta, "bob")}
    finally:
        meta.dispose()


def file_url(server, path: str) -> str:  # noqa: ANN001
    return f"{server.url}/local/demo/files/latest?path={quote(path, safe='')}"


def raw_url(server, path: str) -> str:  # noqa: ANN001
    return f"{server.url}/local/demo/files/v0/raw?path={quote(path, safe='')}"


@pytest.fixture
def watched(page):  # noqa: ANN001, ANN201
    """The page, recording every dialog (dismissed) and console error."""
    page.dialogs = []
    page.console_errors = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    return page


def clean(page) -> None:  # noqa: ANN001
    assert page.dialogs == [], page.dialogs
    assert page.console_errors == [], page.console_errors
    assert page.js_errors == [], page.js_errors


def open_file(server, page, path: str, kind: str):  # noqa: ANN001, ANN201
    response = page.goto(file_url(server, path))
    assert response.status == 200, path
    preview = page.locator(f"#preview [data-preview='{kind}']")
    assert preview.count() == 1, (path, page.locator("#preview").inner_html())
    return preview


def test_code_is_highlighted_with_line_numbers_and_a_raw_link(ui_server, watched) -> None:  # noqa: ANN001
    preview = open_file(ui_server, watched, "code/train.py", "text")
    assert "Python" in preview.locator(".preview-head").inner_text()
    assert preview.locator(".highlight .k", has_text="def").count() >= 1  # a keyword token
    assert preview.locator(".linenos").inner_text().split() == ["1", "2"]
    assert "# <not a tag>" in preview.locator(".code").inner_text()
    raw = preview.get_by_role("link", name="Raw").get_attribute("href")
    assert watched.request.get(ui_server.url + raw).text() == FILES["code/train.py"]
    clean(watched)


def test_large_text_reads_only_the_head(ui_server, watched) -> None:  # noqa: ANN001
    preview = open_file(ui_server, watched, "big.txt", "text")
    numbers = preview.locator(".linenos").inner_text().split()
    assert numbers[-1] == str(256 * 1024 // len(BIG_LINE))  # whole lines of the first 256 KiB
    assert "Preview shows the first 256" in preview.locator(".preview-more").inner_text()
    clean(watched)


def test_markdown_is_rendered_and_sanitized(ui_server, watched) -> None:  # noqa: ANN001
    preview = open_file(ui_server, watched, "README.md", "markdown")
    body = preview.locator("article.markdown-body")
    assert body.locator("h1").inner_text().startswith("Notes")
    assert body.locator("strong").inner_text() == "bold"
    assert body.locator("table td").all_inner_texts() == ["1", "2"]
    assert body.locator("script, img, iframe, [onerror], [onload]").count() == 0
    hrefs = [a.get_attribute("href") for a in body.locator("a").all()]
    assert hrefs == ["https://example.com/ok"], hrefs  # javascript: links are gone
    text = body.inner_text()
    assert "<script>alert(2)</script>" in text and '<img src=x onerror="alert(3)">' in text  # shown as text
    body.get_by_text("md link").click()  # no longer a link: nothing happens
    clean(watched)


@pytest.mark.parametrize("path", ["img/pic.png", "img/pic.jpg", "img/pic.gif", "img/pic.webp", "img/evil.svg"])
def test_images_are_shown(ui_server, watched, path) -> None:  # noqa: ANN001
    preview = open_file(ui_server, watched, path, "image")
    img = preview.locator("img")
    img.evaluate("i => i.decode()")
    size = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert size == ([40, 30] if path.endswith(".svg") else [24, 16])
    assert watched.locator("#preview svg, script:not([src])").count() == 0  # the SVG is never inlined
    clean(watched)


def test_svg_script_never_runs_even_opened_directly(ui_server, watched) -> None:  # noqa: ANN001
    response = watched.request.get(raw_url(ui_server, "img/evil.svg"))
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["content-security-policy"].startswith("sandbox")
    with watched.expect_download():  # navigating to it downloads; it is never a page of this origin
        try:
            watched.goto(raw_url(ui_server, "img/evil.svg"))
        except Exception as e:  # noqa: BLE001 - Chromium reports the download as an aborted navigation
            assert "Download is starting" in str(e) or "net::ERR_ABORTED" in str(e), e
    clean(watched)


def test_csv_and_tsv_tables(ui_server, watched) -> None:  # noqa: ANN001
    preview = open_file(ui_server, watched, "tables/data.csv", "table")
    assert preview.locator("thead th").all_text_contents() == ["#", "name string", "formula string", "score float"]
    assert "4 rows · 3 columns" in preview.locator(".row-count").inner_text()
    cells = preview.locator("tbody tr td:nth-child(3)").all_inner_texts()
    assert cells == ['=HYPERLINK("http://evil.example","x")', "=1+2", "<b>x</b>", "@SUM(A1)"]  # text, not markup
    assert preview.locator("tbody b, tbody a").count() == 0
    clean(watched)
    preview = open_file(ui_server, watched, "tables/data.tsv", "table")
    assert preview.locator("thead th").all_text_contents() == ["#", "x int", "y bool"]
    assert preview.locator("tbody tr").count() == 2


def test_tables_are_paged_by_the_server_and_sorted_on_the_page(ui_server, watched) -> None:  # noqa: ANN001
    preview = open_file(ui_server, watched, "tables/long.csv", "table")
    assert "250 rows · 2 columns" in preview.locator(".row-count").inner_text()
    assert "sorting orders the 100 rows of this page only" in preview.locator(".table-sort-note").inner_text()
    pager = preview.locator(".table-pager")
    assert "rows 1–100 of 250" in pager.inner_text()
    pager.get_by_role("link", name="Next →").click()
    preview = watched.locator("#preview [data-preview='table']")
    assert "rows 101–200 of 250" in preview.locator(".table-pager").inner_text()
    assert "row=100" in watched.url
    assert preview.locator("tbody td:nth-child(2)").first.inner_text() == "100"
    preview.locator("thead th", has_text="n int").click()  # descending after a second click
    preview.locator("thead th", has_text="n int").click()
    nums = preview.locator("tbody td:nth-child(2)").all_inner_texts()
    assert nums[0] == "199" and nums[-1] == "100" and len(nums) == 100  # this page's rows only
    preview.locator(".table-pager").get_by_role("link", name="Next →").click()
    preview = watched.locator("#preview [data-preview='table']")
    assert "rows 201–250 of 250" in preview.locator(".table-pager").inner_text()
    assert preview.locator(".table-pager").get_by_role("link", name="Next →").count() == 0
    assert preview.locator("tbody tr").last.locator("td").nth(2).inner_text() == "<i>row 249</i>"  # text
    preview.locator(".table-pager").get_by_role("link", name="← Previous").click()
    assert "rows 101–200" in watched.locator(".table-pager").inner_text()
    watched.goto(file_url(ui_server, "tables/long.csv") + "&row=999")  # past the end: said, not a 500
    assert "there is no row 901: the table has 250 rows" in watched.locator("#preview").inner_text()
    clean(watched)


def test_a_hostile_folder_and_table_name_stay_text_through_listing_and_paging(ui_server, watched) -> None:  # noqa: ANN001
    folder = "<img src=x onerror=alert(20)>/"
    watched.goto(f"{ui_server.url}/local/demo/files/v0")
    row = watched.locator("main table tr", has_text=folder)
    assert row.count() == 1 and watched.locator("main img[onerror]").count() == 0
    row.get_by_role("link", name=folder).click()  # the folder: its crumbs and listing
    assert folder[:-1] in watched.locator("main").inner_text() and "path=%3Cimg" in watched.url  # shown as text
    watched.get_by_role("link", name='"&row=9.csv').click()
    preview = watched.locator("#preview [data-preview='table']")
    assert "rows 1–100 of 150" in preview.locator(".table-pager").inner_text()
    preview.locator(".table-pager").get_by_role("link", name="Next →").click()  # the name's "&row=" is not a parameter
    preview = watched.locator("#preview [data-preview='table']")
    assert "rows 101–150 of 150" in preview.locator(".table-pager").inner_text()
    assert watched.locator("dl.file-facts code").first.inner_text() == folder + '"&row=9.csv'
    clean(watched)


@pytest.mark.parametrize("row", ["-1", "abc", "99999999999999999999", "1e9", "%00", "²", "100&row=200"])
def test_bad_row_parameters_are_a_page_never_a_500(ui_server, row) -> None:  # noqa: ANN001
    import httpx

    r = httpx.get(file_url(ui_server, "tables/long.csv") + "&row=" + row)
    assert r.status_code == 200 and 'data-preview="table"' in r.text, row
    assert "rows 1–100 of 250" in r.text or "rows 101–200 of 250" in r.text or "rows 201–250" in r.text


def test_table_pages_need_the_read_role(ui_server_with_users) -> None:  # noqa: ANN001
    import httpx

    s = ui_server_with_users
    url = file_url(s, "tables/long.csv") + "&row=100"
    for who, status in ((s.info["bob"], 404), (None, 401), (s.info["alice"], 200)):
        r = httpx.get(url, headers={"Authorization": f"Bearer {who}"} if who else {})
        assert r.status_code == status, who
        assert ("row 100" in r.text) == (status == 200)  # no row, count or column leaks to a non-reader
        assert ("250 rows" in r.text) == (status == 200)


def test_a_wandb_table_over_8_mib_shows_its_rows_a_page_at_a_time(ui_server, watched) -> None:  # noqa: ANN001
    assert len(FILES["tables/big.table.json"]) > 8 << 20
    preview = open_file(ui_server, watched, "tables/big.table.json", "table")
    assert preview.locator("tbody tr").count() == 100
    assert preview.locator("tbody td:nth-child(2)").first.inner_text() == "0"
    assert "at least" in preview.locator(".row-count").inner_text()  # counted only a little past the page
    watched.goto(file_url(ui_server, "tables/big.table.json") + "&row=44950")
    preview = watched.locator("#preview [data-preview='table']")
    assert "45,000 rows" in preview.locator(".row-count").inner_text()
    assert "rows 44,901–45,000 of 45,000" in preview.locator(".table-pager").inner_text()
    assert preview.locator("tbody td:nth-child(2)").last.inner_text() == "44999"
    clean(watched)


def test_json_is_a_collapsible_tree_and_broken_json_shown_as_text(ui_server, watched) -> None:  # noqa: ANN001
    preview = open_file(ui_server, watched, "conf.json", "json")
    tree = preview.locator(".json-tree")
    assert tree.locator(".jt-key").all_inner_texts() == ['"lr"', '"layers"', '"name"']
    assert tree.locator(".jt-str").inner_text() == '"<script>alert(9)</script>"'  # text, not markup
    layers = tree.locator("details").nth(1)  # the root's, then its one nested value
    assert layers.locator("summary").inner_text().startswith('"layers"')
    assert layers.locator(".jt-count").first.inner_text() == "2 items"
    assert layers.locator(".jt-num").all_inner_texts() == ["1", "2"]
    layers.locator("summary").first.click()  # collapses
    assert layers.locator(".jt-num").first.is_visible() is False
    preview = open_file(ui_server, watched, "broken.json", "json")
    assert "not valid JSON" in preview.inner_text()
    assert '{"a": ' in preview.locator(".code").inner_text()
    clean(watched)


def test_binary_shows_type_guess_and_hex(ui_server, watched) -> None:  # noqa: ANN001
    preview = open_file(ui_server, watched, "blob.bin", "binary")
    dump = preview.locator("pre.hexdump").inner_text().splitlines()
    assert dump[0].startswith("00000000  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f")
    assert len(dump) == 512 // 16  # only the first bytes
    assert "Type guess" in preview.inner_text()
    clean(watched)


def test_hostile_names_and_html_files_show_as_text(ui_server, watched) -> None:  # noqa: ANN001
    preview = open_file(ui_server, watched, SCRIPT_NAME, "text")
    assert watched.locator("dl.file-facts code").first.inner_text() == SCRIPT_NAME
    assert "plain <b>text</b>" in preview.locator(".code").inner_text()
    for path in ("page.html", "img/fake.png"):
        preview = open_file(ui_server, watched, path, "text")
        assert "<script>alert(8)</script>" in preview.locator(".code").inner_text()
    # opened directly, an HTML file is plain text, sandboxed: its script does not run
    watched.goto(raw_url(ui_server, "page.html"))
    assert HTML_FILE in watched.locator("body").inner_text()
    assert watched.locator("script").count() == 0
    watched.goto(raw_url(ui_server, SCRIPT_NAME))
    assert watched.locator("body").inner_text().startswith("plain <b>text</b>")
    clean(watched)


def test_hostile_cells_in_jsonl_wandb_table_and_parquet_are_text(ui_server, watched) -> None:  # noqa: ANN001
    preview = open_file(ui_server, watched, "tables/evil.jsonl", "table")
    assert preview.locator("thead th").all_text_contents() == ["#", "name string", "n float", "extra array"]
    assert preview.locator("tbody td:nth-child(2)").all_inner_texts() == ["<img src=x onerror=alert(11)>", "=1+2"]
    preview = open_file(ui_server, watched, "tables/evil.table.json", "table")
    assert preview.locator("thead th").all_text_contents() == ["#", "<b>col</b> string", "v int"]
    assert preview.locator("tbody td:nth-child(2)").all_inner_texts() == ["<script>alert(12)</script>", "=SUM(A1)"]
    preview = open_file(ui_server, watched, "tables/evil.parquet", "table")
    assert preview.locator("thead th").all_text_contents() == ["#", "name string", "score double"]
    assert preview.locator("tbody td:nth-child(2)").all_inner_texts() == ["<img src=x onerror=alert(13)>", "@cmd"]
    assert watched.locator("#preview img, #preview script, #preview b").count() == 0
    clean(watched)


def test_folder_readme_is_sanitized_and_metadata_is_text(ui_server, watched) -> None:  # noqa: ANN001
    watched.goto(f"{ui_server.url}/local/demo/files/v0")
    readme = watched.locator("#readme article.markdown-body")
    assert readme.locator("h1").inner_text().startswith("Notes")
    assert readme.locator("script, img, [onerror]").count() == 0
    assert [a.get_attribute("href") for a in readme.locator("a").all()] == ["https://example.com/ok"]
    meta = watched.locator("pre.json").inner_text()
    assert "<img src=x onerror=alert(14)>" in meta and "javascript:alert(15)" in meta
    assert watched.locator("main a[href^='javascript']").count() == 0
    clean(watched)


def test_thumbnail_grid_of_an_image_folder(ui_server, watched) -> None:  # noqa: ANN001
    watched.goto(f"{ui_server.url}/local/demo/files/v0?path=img/")
    tiles = watched.locator(".thumbs a")
    assert tiles.locator("span").all_inner_texts() == [
        "evil.svg",
        "fake.png",
        "pic.gif",
        "pic.jpg",
        "pic.png",
        "pic.webp",
    ]
    for img in tiles.locator("img").all():
        img.evaluate("i => i.decode()")  # every tile loads; fake.png (HTML) gets the grey placeholder
        assert img.evaluate("i => i.naturalWidth") > 0
    src = tiles.nth(4).locator("img").get_attribute("src")
    r = watched.request.get(ui_server.url + src)
    assert r.headers["content-type"] in ("image/webp", "image/png") and r.headers["x-content-type-options"] == "nosniff"
    assert (
        tiles.nth(0).locator("img").get_attribute("src").startswith("/local/demo/files/v0/raw?")
    )  # an SVG as itself, in an <img>
    fake = watched.request.get(ui_server.url + tiles.nth(1).locator("img").get_attribute("src"))
    assert fake.headers["content-type"] == "image/svg+xml" and b"alert" not in fake.body()
    tiles.nth(4).click()
    assert watched.locator("#preview [data-preview='image']").count() == 1
    clean(watched)


# -- the raw route over HTTP ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind", "attached"),
    [
        ("img/pic.png", "image/png", False),
        ("img/pic.jpg", "image/jpeg", False),
        ("img/pic.gif", "image/gif", False),
        ("img/pic.webp", "image/webp", False),
        ("img/evil.svg", "image/svg+xml", True),
        ("img/fake.png", "text/plain; charset=utf-8", False),
        ("page.html", "text/plain; charset=utf-8", False),
        ("README.md", "text/plain; charset=utf-8", False),
        ("blob.bin", "application/octet-stream", True),
        ("big.txt", "text/plain; charset=utf-8", False),
    ],
)
def test_raw_route_headers(ui_server, path, kind, attached) -> None:  # noqa: ANN001
    import httpx

    r = httpx.get(raw_url(ui_server, path))
    assert r.status_code == 200
    assert r.headers["content-type"] == kind
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert ("content-disposition" in r.headers) == attached
    want = FILES[path] if FILES[path] is not None else _image(FORMATS[path.rsplit(".", 1)[-1]])
    assert r.content == (want.encode() if isinstance(want, str) else want)
    assert int(r.headers["content-length"]) == len(r.content)


def test_raw_route_bad_paths_are_404(ui_server) -> None:  # noqa: ANN001
    import httpx

    for url in (
        raw_url(ui_server, "nope.txt"),
        raw_url(ui_server, "img"),
        raw_url(ui_server, ""),
        f"{ui_server.url}/local/demo/files/v9/raw?path=README.md",
        f"{ui_server.url}/local/other/files/v0/raw?path=README.md",
    ):
        r = httpx.get(url)
        assert r.status_code == 404, url
        assert "alert" not in r.text


def test_raw_and_previews_need_the_read_role(ui_server_with_users) -> None:  # noqa: ANN001
    import httpx

    s = ui_server_with_users
    # bob has no role on the entity: it answers as a missing project would (server/authz.py)
    for who, status in ((s.info["bob"], 404), ("not-a-key", 401), (None, 401), (s.info["alice"], 200)):
        headers = {"Authorization": f"Bearer {who}"} if who else {}
        thumb = f"{s.url}/local/demo/files/v0/thumb?path=img/pic.png"
        for url in (raw_url(s, "README.md"), file_url(s, "README.md"), thumb, f"{s.url}/local/demo/files/v0"):
            r = httpx.get(url, headers=headers)
            assert r.status_code == status, (who, url)
            if status != 200:
                assert "Notes" not in r.text and "alert(" not in r.text


# -- the registry, without a server ------------------------------------------------------


def test_previews_read_only_the_head_of_a_huge_file() -> None:
    from cairn.server import previews

    asked: list[tuple[int, int]] = []

    def csv_at(offset: int, length: int) -> bytes:
        asked.append((offset, length))
        return (b"a,b\n" + b"1,2\n" * (length // 4))[:length]

    five_gib = 5 << 30
    p = previews.build("big.csv", five_gib, csv_at, "/raw")
    assert p.kind == "table" and max(n for _, n in asked) <= previews.HEAD_LIMIT
    assert len(p.ctx["rows"]) == 100 and not p.ctx["exact"]
    for name, head in (("x.png", b"\x89PNG\r\n\x1a\n"), ("x.bin", b""), ("x.webm", b"\x1a\x45\xdf\xa3")):
        asked.clear()
        p = previews.build(name, five_gib, lambda at, n: (asked.append((at, n)), (head + bytes(n))[:n])[1], "/raw")
        assert p.kind == {"x.png": "image", "x.bin": "binary", "x.webm": "media"}[name]
        assert asked == [(0, previews.SNIFF)]  # a player or an image is fetched by the browser, not read here


def test_text_cut_in_a_multibyte_character_is_still_text() -> None:
    from cairn.server.previews import sniff

    data = ("é" * 10).encode()
    assert sniff.decode_text(data[:-1], truncated=True) == "é" * 9
    assert sniff.decode_text(data[:-1], truncated=False) is None
    assert sniff.decode_text(b"a\x00b", truncated=False) is None

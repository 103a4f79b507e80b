"""The demo project (what `cairn demo` and `./dev.sh demo` make) in Chromium: its showcase
artifact holds one file of every kind the UI previews, and each preview renders (checked in
the DOM; a screenshot of each is kept in the test's tmp folder), tables page and sort in
the browser, audio and video play, and the pages fit 390 px."""

from __future__ import annotations

from pathlib import Path

import pytest

SHOWCASE = "/local/demo/showcase/v0"


def build_store(home: Path) -> dict:
    from cairn.cli.demo import make_demo

    return {"lines": list(make_demo())}


@pytest.fixture
def watched(page):  # noqa: ANN001, ANN201
    page.dialogs, page.console_errors = [], []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    return page


def clean(page) -> None:  # noqa: ANN001
    assert (page.dialogs, page.console_errors, page.js_errors) == ([], [], [])


KINDS = [
    ("README.md", "markdown", "article.markdown-body table td"),
    ("docs/notes.md", "markdown", "article.markdown-body strong"),
    ("code/train.py", "text", ".highlight .k"),
    ("config.json", "json", ".json-tree details"),
    ("tables/metrics.csv", "table", "table.preview-rows[data-ready='1']"),
    ("tables/labels.tsv", "table", "table.preview-rows[data-ready='1']"),
    ("tables/events.jsonl", "table", "table.preview-rows[data-ready='1']"),
    ("tables/metrics.parquet", "table", "table.preview-rows[data-ready='1']"),
    ("tables/predictions.table.json", "table", "table.preview-rows[data-ready='1']"),
    ("images/red.png", "image", "img"),
    ("images/sunset.jpg", "image", "img"),
    ("images/leaf.gif", "image", "img"),
    ("images/sea.webp", "image", "img"),
    ("images/logo.svg", "image", "img"),
    ("media/tone.wav", "media", "audio[controls]"),
    ("media/clip.webm", "media", "video[controls]"),
    ("model/weights.bin", "binary", "pre.hexdump"),
]


def test_the_demo_says_what_it_made(ui_server) -> None:  # noqa: ANN001
    assert any(line.startswith("previews:     local/demo/showcase:v0") for line in ui_server.info["lines"])


@pytest.mark.parametrize(("path", "kind", "selector"), KINDS, ids=[k[0] for k in KINDS])
def test_every_kind_previews(ui_server, watched, tmp_path, path, kind, selector) -> None:  # noqa: ANN001
    assert watched.goto(f"{ui_server.url}{SHOWCASE}?path={path}").status == 200
    preview = watched.locator(f"#preview [data-preview='{kind}']")
    assert preview.count() == 1, watched.locator("#preview").inner_html()[:500]
    assert preview.locator(selector).count() >= 1
    if kind == "image":
        img = preview.locator("img")
        img.evaluate("i => i.decode()")
        assert img.evaluate("i => i.naturalWidth") > 0
    preview.screenshot(path=str(tmp_path / (path.replace("/", "_") + ".png")))
    clean(watched)


def test_tables_show_types_and_counts(ui_server, watched) -> None:  # noqa: ANN001
    for path, head, count in (
        ("tables/metrics.csv", ["#", "step int", "loss float", "acc float", "split string"], "120 rows · 4 columns"),
        (
            "tables/metrics.parquet",
            ["#", "step int64", "loss double", "acc double", "split string"],
            "120 rows · 4 columns",
        ),
        ("tables/events.jsonl", ["#", "t int", "event string", "ok bool", "tags array"], "60 rows · 4 columns"),
        (
            "tables/predictions.table.json",
            ["#", "id int", "label string", "score float", "correct bool"],
            "75 rows · 4 columns",
        ),
        ("tables/labels.tsv", ["#", "image string", "label string", "confidence float"], "40 rows · 3 columns"),
    ):
        watched.goto(f"{ui_server.url}{SHOWCASE}?path={path}")
        preview = watched.locator("#preview")
        assert preview.locator("thead th").all_text_contents() == head, path
        assert count in preview.locator(".row-count").inner_text(), path
    clean(watched)


def visible(preview, col: int) -> list[str]:  # noqa: ANN001
    return preview.locator(f"tbody tr:visible td:nth-child({col})").all_inner_texts()


def test_a_table_pages_and_sorts_in_the_browser(ui_server, watched) -> None:  # noqa: ANN001
    watched.goto(f"{ui_server.url}{SHOWCASE}?path=tables/metrics.csv")
    preview = watched.locator("#preview")
    preview.locator("table[data-ready='1']").wait_for()
    assert visible(preview, 2) == [str(i) for i in range(100)]
    pager = preview.locator(".table-pager")
    assert pager.locator(".page-info").inner_text() == "rows 1–100 of 120"
    pager.get_by_role("link", name="Next →").click()  # the server reads the next page
    preview = watched.locator("#preview")
    preview.locator("table[data-ready='1']").wait_for()
    assert visible(preview, 2) == [str(i) for i in range(100, 120)]
    assert preview.locator(".table-pager").get_by_role("link", name="Next →").count() == 0
    preview.locator(".table-pager").get_by_role("link", name="← Previous").click()
    preview = watched.locator("#preview")
    preview.locator("table[data-ready='1']").wait_for()
    loss = preview.locator("thead th", has_text="loss")
    loss.click()  # numbers by value, within this page
    assert loss.get_attribute("aria-sort") == "ascending"
    shown = [float(x) for x in visible(preview, 3)]
    assert len(shown) == 100 and shown == sorted(shown)
    assert shown[0] == round(1 / 100, 4) and shown[-1] == 1.0  # the page's rows 0..99 only
    loss.click()
    assert loss.get_attribute("aria-sort") == "descending"
    assert visible(preview, 3)[0] == "1.0"
    preview.locator("thead th", has_text="split").click()  # text
    first = visible(preview, 5)
    assert first == sorted(first) and first[0] == "train"
    clean(watched)


# resolves once the player has read the file's metadata; fails on a media error or after 10 s
LOADED = """el => new Promise((ok, no) => {
    const done = () => ok(RESULT);
    if (el.readyState >= 1) return done();
    el.addEventListener("loadedmetadata", done);
    el.addEventListener("error", () => no(new Error("media error " + (el.error && el.error.code))));
    setTimeout(() => no(new Error("no metadata after 10 s")), 10000);
    el.load();
})"""


def test_audio_and_video_play_in_the_browsers_players(ui_server, watched) -> None:  # noqa: ANN001
    watched.goto(f"{ui_server.url}{SHOWCASE}?path=media/tone.wav")
    audio = watched.locator("#preview audio")
    duration = audio.evaluate(LOADED.replace("RESULT", "el.duration"))
    assert abs(duration - 1.0) < 0.05
    watched.goto(f"{ui_server.url}{SHOWCASE}?path=media/clip.webm")
    video = watched.locator("#preview video")
    size = video.evaluate(LOADED.replace("RESULT", "[el.videoWidth, el.videoHeight]"))
    assert size == [64, 48]
    raw = f"{ui_server.url}{SHOWCASE}/raw?path=media/tone.wav"
    whole = watched.request.get(raw).body()
    r = watched.request.get(raw, headers={"Range": "bytes=100-199"})  # what a player seeks with
    assert (
        r.status == 206 and r.headers["content-range"] == f"bytes 100-199/{len(whole)}" and r.body() == whole[100:200]
    )
    r = watched.request.get(raw, headers={"Range": f"bytes={len(whole)}-"})
    assert r.status == 416 and r.headers["content-range"] == f"bytes */{len(whole)}"
    for path, kind in (("media/tone.wav", "audio/wav"), ("media/clip.webm", "video/webm")):
        r = watched.request.get(f"{ui_server.url}{SHOWCASE}/raw?path={path}")
        assert r.headers["content-type"] == kind and r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"].startswith("sandbox")
    clean(watched)


def test_folder_readme_and_image_grid(ui_server, watched, tmp_path) -> None:  # noqa: ANN001
    watched.goto(f"{ui_server.url}{SHOWCASE}")
    readme = watched.locator("#readme article.markdown-body")
    assert readme.locator("h1").inner_text() == "Showcase"
    assert readme.locator("table tbody tr").count() == 3
    assert watched.locator(".thumbs").count() == 0  # not a folder of images
    watched.goto(f"{ui_server.url}{SHOWCASE}?path=images/")
    tiles = watched.locator(".thumbs a")
    assert tiles.locator("span").all_inner_texts() == [
        "leaf.gif",
        "logo.svg",
        "red.png",
        "sea.webp",
        "sunset.jpg",
        "teal.png",
    ]
    for img in tiles.locator("img").all():
        img.evaluate("i => i.decode()")
        assert 0 < img.evaluate("i => i.naturalWidth") <= 240
    watched.locator(".thumbs").screenshot(path=str(tmp_path / "thumbs.png"))
    clean(watched)


@pytest.mark.parametrize(
    "path",
    [
        "",
        "?path=images/",
        "?path=tables/metrics.csv",
        "?path=config.json",
        "?path=code/train.py",
        "?path=media/clip.webm",
        "?path=model/weights.bin",
    ],
)
def test_showcase_pages_fit_390px(browser, ui_server, tmp_path, path) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(f"{ui_server.url}{SHOWCASE}{path}")
        page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()


# -- every page kind at a phone's width ------------------------------------------------------

PHONE_PAGES = [
    "/",
    "/local/demo",
    "/local/demo/images",
    "/local/demo/images/v1",  # open access: the edit card is on it
    "/local/demo/images/v1?path=train/",
    "/local/demo/images/v1/lineage",
    "/local/demo/predictions/v0/lineage?depth=8",
    "/local/demo/images/diff?a=v0&b=v1",
    "/-/filediff/local/demo/images?a=v0&b=v1&path=labels.csv",
    "/-/search?q=demo",
    "/-/compare/local/demo/images",
    "/local/demo/showcase/v0?path=tables/metrics.csv",
    "/local/demo/nothing-here",  # the error page
    "run",  # the producer run of images:v1, and its lineage
    "run/lineage",
]

OVERFLOW = """() => {
    const scrolls = (e) => {  // inside a box that scrolls (or clips) sideways on its own
        for (let a = e.parentElement; a && a.tagName !== 'BODY'; a = a.parentElement) {
            if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)) return a;
        }
        return null;
    };
    const out = [], unreachable = [];
    for (const e of document.querySelectorAll('body *')) {
        const r = e.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) continue;
        const box = scrolls(e);
        if (r.right > 391 && !box) out.push(e.tagName + '.' + e.className);
        // a control reachable: on screen, or in a box that scrolls to it
        if (e.matches('a[href], button, input, select, textarea, summary') && (r.left < -1 || r.right > 391)) {
            if (!box || box.scrollWidth <= box.clientWidth) unreachable.push(e.tagName + ':' + (e.textContent || e.name).trim().slice(0, 30));
        }
    }
    return [out, unreachable];
}"""


@pytest.mark.parametrize("path", PHONE_PAGES)
def test_every_page_kind_fits_390px(browser, ui_server, tmp_path, path) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        if path.startswith("run"):
            page.goto(ui_server.url + "/local/demo/images/v1")
            run, _, query = page.locator("main a[href^='/runs/']").first.get_attribute("href").partition("?")
            path = run + path[3:] + ("?" + query if query else "")  # /runs/ID[/lineage]?entity=…&project=…
        response = page.goto(ui_server.url + path)
        assert response.status == (404 if "nothing-here" in path else 200), path
        if "/v1" in path and "lineage" not in path and "path=" not in path:
            assert page.locator("#edit").count() == 1  # the edit card is part of what must fit
            page.locator("#edit details.danger-zone summary").click()  # opened, it still fits
        if "lineage" in path:  # the graph opens at its focus, boxes legible; the rest is a pan away
            canvas = page.locator("#lineage-canvas").bounding_box()
            assert canvas["x"] >= 0 and canvas["x"] + canvas["width"] <= 390
            page.locator("#lineage-graph[data-ready='1']").wait_for()
            page.get_by_role("button", name="Fit").click()  # and "Fit" brings every node on screen
        page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        wide, unreachable = page.evaluate(OVERFLOW)
        assert wide == [], (path, wide[:8])
        assert unreachable == [], (path, unreachable[:8])
        assert errors == []
    finally:
        context.close()

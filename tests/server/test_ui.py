"""The web UI, driven in Debian's Chromium (Playwright) against a real uvicorn server over a
temporary embedded store built with the SDK. Nothing is mocked."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from helpers import write

import cairn

HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
HOSTILE_FILE = '<img src=x onerror="window.__pwned = 3">.txt'
HOSTILE_ALIAS = "<script>x<"
X_BIN = bytes(range(256)) * 3
SCREENSHOTS = Path("/tmp")


def build_store(home: Path) -> dict:
    """The demo project, plus: ``docs`` (v0, then an incremental v1 with one file added,
    one removed, one changed), ``many`` (450 files in one folder) and ``evil`` (hostile text)."""
    from cairn.cli.demo import make_demo

    list(make_demo())
    work = home / "work"
    write(work / "docs/a.txt", "alpha v0\n")
    write(work / "docs/keep.txt", "kept\n")
    write(work / "docs/old.txt", "to be removed\n")
    write(work / "docs/sub/deep/x.bin", X_BIN)
    with cairn.init(project="demo", job_type="write-docs") as run:
        art = cairn.Artifact("docs", "dataset", description="Project docs", metadata={"lang": "en", "pages": 3})
        art.add_dir(str(work / "docs"))
        run.log_artifact(art, aliases=["stable"])
        writer = run.id
    write(work / "a2.txt", "alpha v1 -- edited\n")
    write(work / "added.txt", "a new file\n")
    with cairn.init(project="demo", job_type="edit-docs") as run:
        draft = run.use_artifact("docs:latest").new_draft()
        draft.remove("a.txt")
        draft.add_file(str(work / "a2.txt"), name="a.txt")
        draft.remove("old.txt")
        draft.add_file(str(work / "added.txt"), name="new/added.txt")
        run.log_artifact(draft)
        editor = run.id
    for i in range(450):
        write(work / f"many/f/file_{i:04d}.txt", f"{i}\n")
    many = cairn.Artifact("many", "dataset")
    many.add_dir(str(work / "many"))
    many.save(project="demo")
    write(work / "evil.txt", "x")
    with cairn.init(project="demo", job_type="evil", config={"note": HOSTILE}) as run:
        evil = cairn.Artifact("evil", "dataset", description=HOSTILE, metadata={HOSTILE: [HOSTILE]})
        evil.add_file(str(work / "evil.txt"), name=HOSTILE_FILE)
        run.log_artifact(evil, aliases=[HOSTILE_ALIAS])
        evil_run = run.id
    return {"writer": writer, "editor": editor, "evil_run": evil_run}


def build_store_with_users(home: Path) -> dict:
    from cairn.cli.demo import make_demo
    from cairn.engine import Engine
    from cairn.engine import accounts as auth
    from cairn.storage.meta.sql import MetaStore

    list(make_demo())
    meta = MetaStore.sqlite(home / "meta.sqlite")
    try:
        alice = auth.create_user(meta, "alice")
        auth.add_member(meta, "local", "alice", "read")
        bob = auth.create_user(meta, "bob")  # owns only the entity "bob"
        images = Engine(meta, None).list_versions("local", "demo", "images")  # type: ignore[arg-type]
        return {"alice": alice, "bob": bob, "digests": [v.digest for v in images], "run": images[0].run_id}
    finally:
        meta.dispose()


def ok(page) -> None:  # noqa: ANN001
    assert page.js_errors == [], page.js_errors


def rows(page, selector: str = "table.file-table tbody tr") -> list[str]:  # noqa: ANN001
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


# -- browsing ---------------------------------------------------------------------


def test_projects_artifact_version_folders_and_download(ui_server, page) -> None:  # noqa: ANN001
    page.goto(ui_server.url + "/")
    assert page.locator("h1").inner_text() == "Projects"
    page.get_by_role("link", name="demo").click()
    page.wait_for_url(ui_server.url + "/local/demo")
    artifacts = page.locator("section", has=page.locator("h2", has_text="Artifacts"))
    for name in ("docs", "evil", "images", "many", "predictions"):
        assert artifacts.get_by_role("link", name=name, exact=True).count() == 1
    assert page.locator("#runs tbody tr").count() >= 9  # demo (6) + docs (2) + evil (1)
    docs_row = artifacts.locator("tr", has=page.get_by_role("link", name="docs", exact=True))
    assert re.search(r"dataset\s+2\b", docs_row.inner_text())

    artifacts.get_by_role("link", name="docs", exact=True).click()
    page.wait_for_url("**/local/demo/docs")
    versions = rows(page, "section:has(h2:text('Versions')) tbody tr")
    assert versions[0].startswith("v1") and "latest" in versions[0] and "\t4\t" in versions[0]
    assert versions[1].startswith("v0") and "stable" in versions[1]
    history = rows(page, "section:has(h2:text('Alias history')) tbody tr")
    assert any(h.startswith("latest") and "v0 → v1" in h for h in history)

    page.get_by_role("link", name="v0", exact=True).first.click()
    page.wait_for_url("**/local/demo/docs/v0")
    assert page.locator("h1").inner_text() == "docs:v0"
    assert "Project docs" in page.locator(".description").inner_text()
    assert '"pages": 3' in page.locator("pre.json").inner_text()
    facts = page.locator("dl.facts").first.inner_text()
    assert "blake3:" in facts and "4" in facts
    names = [r.split("\t")[0].strip() for r in rows(page)]
    assert names == ["sub/", "a.txt", "keep.txt", "old.txt"]  # folders first

    page.get_by_role("link", name="sub/").click()
    page.get_by_role("link", name="deep/").click()
    page.wait_for_url(re.compile(r".*path=sub%2Fdeep%2F.*"))
    assert page.locator("nav.path").inner_text().split() == ["docs", "/", "sub", "/", "deep"]
    assert [r.split("\t")[0].strip() for r in rows(page)] == ["..", "x.bin"]

    x_row = page.locator("tr.file", has_text="x.bin")
    with page.expect_download() as info:
        x_row.get_by_role("link", name="Download").click()
    download = info.value
    assert download.suggested_filename == "x.bin"
    assert Path(download.path()).read_bytes() == X_BIN

    x_row.get_by_role("link", name="x.bin").click()
    assert "768 bytes" in page.locator("dl.file-facts").inner_text()
    page.get_by_role("link", name="Back to folder").click()
    page.get_by_role("link", name="..").click()
    page.get_by_role("link", name="..").click()
    assert [r.split("\t")[0].strip() for r in rows(page)][0] == "sub/"
    ok(page)


def test_large_folder_is_paginated(ui_server, page) -> None:  # noqa: ANN001
    page.goto(ui_server.url + "/local/demo/many/v0")
    assert rows(page)[0].startswith("f/") and "450 files" in rows(page)[0]
    page.get_by_role("link", name="f/").click()
    assert "450 files" in page.locator("#files .card-head").inner_text()
    seen: list[str] = []
    for expected in (200, 200, 50):
        names = [r.split("\t")[0].strip() for r in rows(page, "tr.file")]
        assert len(names) == expected
        seen += names
        nxt = page.get_by_role("link", name="Next page →")
        if expected == 50:
            assert nxt.count() == 0
        else:
            nxt.click()
    assert seen == [f"file_{i:04d}.txt" for i in range(450)]
    page.get_by_role("link", name="« First page").click()
    assert rows(page, "tr.file")[0].startswith("file_0000.txt")
    ok(page)


def test_diff_page(ui_server, page) -> None:  # noqa: ANN001
    page.goto(ui_server.url + "/local/demo/docs")
    page.get_by_role("link", name="diff v0").click()
    page.wait_for_url(re.compile(r".*/local/demo/docs/diff\?a=v0&b=v1$"))
    assert page.locator("h2").first.inner_text() == "3 changed paths"
    counts = {k: page.locator(f"#count-{k} .count").inner_text() for k in ("added", "removed", "changed")}
    assert counts == {"added": "1", "removed": "1", "changed": "1"}
    kinds = {
        r.locator("td.path-cell").inner_text(): r.get_attribute("data-kind")
        for r in page.locator("table.diff-table tbody tr").all()
    }
    assert kinds == {"a.txt": "changed", "new/added.txt": "added", "old.txt": "removed"}
    page.screenshot(path=str(SCREENSHOTS / "cairn-ui-diff.png"), full_page=True)

    page.locator("#count-added").click()
    assert rows(page, "table.diff-table tbody tr") == [rows(page, "table.diff-table tbody tr")[0]]
    assert "new/added.txt" in rows(page, "table.diff-table tbody tr")[0]
    page.get_by_role("link", name="Swap").click()
    page.wait_for_url(re.compile(r".*a=v1&b=v0$"))
    assert page.locator("#count-added .count").inner_text() == "1"  # old.txt comes back
    assert (
        page.locator("tr[data-kind=added]").inner_text().strip().endswith("old.txt")
        or "old.txt" in page.locator("tr[data-kind=added]").inner_text()
    )

    page.goto(ui_server.url + "/local/demo/docs/diff?a=latest&b=v1")
    assert page.locator("h2").first.inner_text() == "No differences"
    page.goto(ui_server.url + "/local/demo/images/diff?a=baseline&b=latest")  # the demo's incremental edit
    assert page.locator("#count-removed .count").inner_text() == "20"
    assert page.locator("#count-added .count").inner_text() == "1"
    assert page.locator("#count-changed .count").inner_text() == "1"
    ok(page)


def test_lineage_links_between_versions_and_runs(ui_server, page) -> None:  # noqa: ANN001
    writer, editor = ui_server.info["writer"], ui_server.info["editor"]
    page.goto(ui_server.url + "/local/demo/docs/v0")
    graph = page.locator("figure.lineage svg")
    assert graph.locator(f'a[href^="/runs/{writer}"]').count() == 1  # producer
    assert graph.locator(f'a[href^="/runs/{editor}"]').count() == 1  # consumer
    assert page.locator("#consumers").get_by_role("link", name=f"run {editor}").count() == 1

    graph.locator(f'a[href^="/runs/{writer}"]').click()
    page.wait_for_url(f"**/runs/{writer}*")
    assert page.locator("h1").inner_text() == f"Run {writer}"
    assert "docs:v0" in page.locator("#outputs").inner_text()
    assert "no inputs" in page.locator("figure.lineage").inner_text()

    page.goto(ui_server.url + "/local/demo/docs/v0")
    graph.locator(f'a[href^="/runs/{editor}"]').click()
    page.wait_for_url(f"**/runs/{editor}*")
    assert "docs:v0" in page.locator("#inputs").inner_text()
    assert "docs:v1" in page.locator("#outputs").inner_text()
    run_graph = page.locator("figure.lineage svg")
    assert run_graph.locator('a[href="/local/demo/docs/v0"]').count() == 1
    assert run_graph.locator('a[href="/local/demo/docs/v1"]').count() == 1
    run_graph.locator('a[href="/local/demo/docs/v1"]').click()
    page.wait_for_url("**/local/demo/docs/v1")
    assert page.locator("dl.facts").first.get_by_role("link", name=f"run {editor}").count() == 1

    # the demo's images:v0 has one producer and four consumers (3 eval shards + the edit run)
    page.goto(ui_server.url + "/local/demo/images/v0")
    assert page.locator("figure.lineage svg a[href^='/runs/']").count() == 5
    page.screenshot(path=str(SCREENSHOTS / "cairn-ui-version.png"), full_page=True)
    ok(page)


def test_errors_render_clear_404_pages(ui_server, page) -> None:  # noqa: ANN001
    for path in (
        "/local/demo/nope",
        "/local/demo/docs/v9",
        "/local/demo/docs/no-such-alias",
        "/local/demo/docs/bad:alias",
        "/local/nothing",
        "/runs/nosuchrun",
        "/local/demo/docs/v0?path=missing/",
        "/local/demo/docs/v0?path=missing.txt",
        "/local/demo/docs/diff?a=v0&b=v42",
        "/a/b/c/d/e/f",
        "/-/static/nope.css",
    ):
        response = page.goto(ui_server.url + path)
        assert response.status == 404, path
        assert page.locator("h1").inner_text() == "Not found", path
        assert "Traceback" not in page.content()
        assert page.get_by_role("link", name="← All projects").count() == 1
    response = page.goto(ui_server.url + "/local/demo/docs/diff")
    assert response.status == 400 and "?a=v0&b=v1" in page.locator(".lead").inner_text()
    response = page.goto(ui_server.url + "/local/demo/docs/v0?path=sub")  # a folder without its '/'
    assert response.status == 200 and page.url.endswith("path=sub%2F")
    ok(page)


def test_hostile_text_is_escaped(ui_server, page) -> None:  # noqa: ANN001
    for path in ("/local/demo/evil/latest", "/local/demo/evil", "/local/demo", f"/runs/{ui_server.info['evil_run']}"):
        response = page.goto(ui_server.url + path)
        assert response.status == 200, path
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert page.evaluate("window.__pwned") is None, path
        # scripts: the package's own files (app.js; charts.js on run pages) and JSON data blocks, nothing else
        for script in page.locator("script").all():
            src, kind = script.get_attribute("src"), script.get_attribute("type")
            assert (src or "").startswith("/-/static/") or (src is None and kind == "application/json"), path
        assert page.locator("head script[src^='/-/static/app.js']").count() == 1
        assert page.locator("img").count() == 0, path
    page.goto(ui_server.url + "/local/demo/evil/latest")
    assert page.locator(".description").inner_text() == HOSTILE
    assert "<script>window.__pwned = 1</script>" in page.locator("pre.json").inner_text()
    assert page.locator(".badge.alias", has_text=HOSTILE_ALIAS).count() == 1
    assert page.get_by_role("link", name=HOSTILE_FILE).count() == 1
    html = page.request.get(ui_server.url + "/local/demo/evil/latest").text()
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    assert "<script>window" not in html and "<img src=x" not in html

    page.get_by_role("link", name=HOSTILE_FILE).click()  # the file page, with its download
    assert page.locator("dl.file-facts code").first.inner_text() == HOSTILE_FILE
    href = page.get_by_role("link", name="Download", exact=True).get_attribute("href")
    blob = page.request.get(ui_server.url + href)
    assert blob.body() == b"x"
    assert blob.headers["content-type"] == "application/octet-stream"
    assert blob.headers["content-disposition"].startswith("attachment;")
    assert "<" not in blob.headers["content-disposition"]
    page.goto(ui_server.url + f"/runs/{ui_server.info['evil_run']}")
    assert "<script>window.__pwned = 1</script>" in page.locator("pre.json").inner_text()
    ok(page)


# -- logins -----------------------------------------------------------------------

PROJECT_WORDS = ("raw images", "baseline", "predictions", "dataset", "img_000", "Alias history")


def login(page, key: str) -> None:  # noqa: ANN001
    page.locator("#key").fill(key)
    page.get_by_role("button", name="Log in").click()


def test_login_wrong_key_other_entity_and_logout(ui_server_with_users, page) -> None:  # noqa: ANN001
    url, info = ui_server_with_users.url, ui_server_with_users.info
    response = page.goto(url + "/local/demo/images")
    assert response.status == 401
    assert page.locator("h1").inner_text() == "Log in to cairn"
    assert not any(w in page.content() for w in PROJECT_WORDS)

    login(page, "cairn_not-a-real-key")
    assert page.get_by_role("alert").inner_text() == "That API key is not valid."
    assert page.context.cookies() == []

    # bob's key is valid but has no role on "local": the page answers as a missing one does
    login(page, info["bob"])
    page.wait_for_url(url + "/local/demo/images")
    assert page.locator("h1").inner_text() == "Not found"
    assert not any(w in page.content() for w in PROJECT_WORDS)
    assert not any(d.split(":")[1][:12] in page.content() for d in info["digests"])
    for path in (
        "/local/demo",
        "/local/demo/images/v0",
        "/local/demo/images/diff?a=v0&b=v1",
        "/local/nope/nothing",
        "/runs/" + info["run"],
    ):
        response = page.goto(url + path)  # real or not, every page of the entity answers the same
        assert response.status == 404, path
        seen = page.locator("main").inner_text()
        missing = path.replace("/local/", "/nosuchentity/").replace(info["run"], "nosuchrun")
        assert page.goto(url + missing).status == 404
        want = page.locator("main").inner_text()
        assert seen.replace("local", "nosuchentity").replace(info["run"], "nosuchrun") == want, path
    page.goto(url + "/")
    assert "No projects you can read yet." in page.locator("main").inner_text()
    assert "bob" in page.locator(".session").inner_text()

    cookie = next(c for c in page.context.cookies() if c["name"] == "cairn_key")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert page.evaluate("document.cookie") == ""

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(url + "/-/login")
    assert [c for c in page.context.cookies() if c["name"] == "cairn_key"] == []
    assert page.goto(url + "/").status == 401
    ok(page)


def test_login_with_a_role_reaches_the_page_asked_for(ui_server_with_users, page) -> None:  # noqa: ANN001
    url, info = ui_server_with_users.url, ui_server_with_users.info
    page.goto(url + "/local/demo/images/v0?path=train/")
    login(page, info["alice"])
    page.wait_for_url(re.compile(r".*/local/demo/images/v0\?path=train(/|%2F)$"))
    assert page.locator("h1").inner_text() == "images:v0"
    assert "alice" in page.locator(".session").inner_text()
    row = page.locator("tr.file", has_text="img_000.bin")
    with page.expect_download() as dl:
        row.get_by_role("link", name="Download").click()
    assert dl.value.suggested_filename == "img_000.bin"
    assert len(Path(dl.value.path()).read_bytes()) == 2048
    page.goto(url + "/")
    assert page.get_by_role("link", name="demo").count() == 1


def test_login_refuses_stale_cookies_cross_site_posts_and_open_redirects(ui_server_with_users, page) -> None:  # noqa: ANN001
    url, info = ui_server_with_users.url, ui_server_with_users.info
    page.context.add_cookies([{"name": "cairn_key", "value": "cairn_revoked", "url": url}])
    assert page.goto(url + "/").status == 401
    assert "no longer valid" in page.get_by_role("alert").inner_text()

    refused = page.request.post(
        url + "/-/login",
        form={"key": info["alice"], "next": "/"},
        headers={"Origin": "http://evil.example"},
        max_redirects=0,
    )
    assert refused.status == 403 and "set-cookie" not in refused.headers

    page.goto(url + "/-/login?next=//evil.example/x")
    login(page, info["alice"])
    page.wait_for_url(url + "/")
    assert page.get_by_role("link", name="demo").count() == 1


# -- the folder walk, against brute force ------------------------------------------------


def test_a_flat_folder_of_any_size_lists_folders_first_reading_its_leaves_once() -> None:
    """60,000 files (three times what used to fall back to path order) with sub-folders whose
    names sort among the files: folders come first on page one, and later pages read only the
    leaves they show (the sub-folder names are kept, never the entries)."""
    from cairn.core.manifest import Entry, Manifest, build
    from cairn.server import browse

    paths = [f"data/f{i:06d}.bin" for i in range(60_000)]
    paths += ["data/f012345x/a.txt", "data/f030000z/b/c.txt", "data/f059999q/d.txt", "top.txt"]
    chunks: dict[str, bytes] = {}
    root = build(sorted(Entry(p, "blake3:00", 1) for p in paths), chunks.__setitem__)
    loads: list[str] = []
    calls: list[int] = []

    def load(keys: list[str]) -> dict[str, bytes]:
        loads.extend(keys)
        calls.append(len(keys))
        return {k: chunks[k] for k in keys}

    cache = browse.ManifestCache(max_leaves=64)  # far fewer than the folder's leaves: memory stays bounded
    tree = browse.Tree(Manifest(root.key, load), cache)
    leaves = len(tree.leaves)
    assert leaves > 200
    loads.clear()
    calls.clear()
    first = tree.listing("data/", None, 50)
    assert first.folders_first and [r.name for r in first.rows[:3]] == ["f012345x/", "f030000z/", "f059999q/"]
    assert [r.path for r in first.rows[3:6]] == ["data/f000000.bin", "data/f000001.bin", "data/f000002.bin"]
    assert (first.files, first.rows[1].files) == (60_003, 1)
    assert len(loads) <= leaves + 10  # one pass over the folder's leaves (plus the folder rows' stats)
    assert len(calls) <= leaves // browse.PREFETCH + 12  # loaded 64 leaves a call (one query each), not one by one
    assert len(cache._leaves) <= 64
    for _ in range(3):  # the next pages: a handful of leaves each, never the whole folder again
        loads.clear()
        nxt = tree.listing("data/", first.next_after, 50)
        assert len(loads) <= 3 and len(nxt.rows) == 50
        assert nxt.rows[0].path == f"data/f{int(first.rows[-1].path[6:12]) + 1:06d}.bin"
        first = nxt
    loads.clear()
    again = browse.Tree(Manifest(root.key, load), cache).listing("data/", None, 50)  # another request
    assert [r.name for r in again.rows[:3]] == ["f012345x/", "f030000z/", "f059999q/"] and len(loads) <= 8
    assert [type(r).__name__ for r in tree.listing("", None, 5).rows] == ["Folder", "Entry"]


@pytest.mark.parametrize("folders_first", [True, False])
def test_folder_listing_matches_a_full_scan(folders_first, monkeypatch) -> None:  # noqa: ANN001
    from cairn.core.manifest import Entry, Manifest, build
    from cairn.server import browse
    from cairn.server.browse import Folder, ManifestCache, Tree, child_name

    if not folders_first:  # a folder with too many sub-folders to gather: plain path order
        monkeypatch.setattr(browse, "FOLDER_NAMES_MAX", 0)

    rnd = random.Random(5)
    for n in (0, 1, 40, 3000):
        paths = sorted(
            {
                "/".join(
                    "".join(rnd.choice("ab.-_0Z") for _ in range(rnd.randint(1, 3))) for _ in range(rnd.randint(1, 4))
                )
                for _ in range(n)
            }
        )
        chunks: dict[str, bytes] = {}
        root = build([Entry(p, "blake3:00", len(p)) for p in paths], chunks.__setitem__)
        tree = Tree(Manifest(root.key, lambda keys: {k: chunks[k] for k in keys}), ManifestCache())
        for folder in sorted({""} | {p.rsplit("/", 1)[0] + "/" for p in paths if "/" in p})[:40]:
            below = [p for p in paths if p.startswith(folder)]
            want: dict[str, object] = {}
            for p in below:
                rest = p[len(folder) :]
                if "/" in rest:
                    name = rest.split("/", 1)[0] + "/"
                    files, size = want.get(name, (0, 0))  # type: ignore[misc]
                    want[name] = (files + 1, size + len(p))
                else:
                    want[rest] = None
            got, after = [], None
            limit = rnd.choice([1, 2, 7, 200])
            while True:
                listing = tree.listing(folder, after, limit)
                got += [
                    (child_name(r, folder), (r.files, r.size) if isinstance(r, Folder) else None) for r in listing.rows
                ]
                if listing.next_after is None:
                    break
                after = listing.next_after
            # folders first, then files, each in path order
            first = (lambda kv: not kv[0].endswith("/")) if folders_first else (lambda kv: False)
            assert got == sorted(want.items(), key=lambda kv: (first(kv), folder + kv[0]))
            assert listing.folders_first == (folders_first or not any(k.endswith("/") for k in want))
            assert (listing.files, listing.size) == (len(below), sum(len(p) for p in below))

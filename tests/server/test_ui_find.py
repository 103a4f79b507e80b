"""Search and compare, in Chromium: search finds versions by name, type, alias, tag and
metadata value in the projects the viewer can read and nothing of any other entity; the
compare page shows chosen metadata keys as sortable columns and charts one of them."""

from __future__ import annotations

from pathlib import Path

from helpers import write

import cairn

ACCS = [0.61, 0.83, 0.72, 0.9]
HOSTILE = "<img src=x onerror=alert(1)>"


def build_store_with_users(home: Path) -> dict:
    from cairn.engine import accounts as auth
    from cairn.storage.meta.sql import MetaStore

    work = home / "work"
    with cairn.init(project="find") as run:
        for i, acc in enumerate(ACCS):
            write(work / f"m{i}.txt", f"model {i}")
            meta = {
                "acc": acc,
                "step": 100 * (len(ACCS) - i),
                "optimizer": {"name": "zebra-adam", "lr": 0.001 * (i + 1)},
                "secretkey": "plain",
                HOSTILE: HOSTILE,
            }
            art = cairn.Artifact("classifier", "model", metadata=meta)
            art.add_file(str(work / f"m{i}.txt"), name="m.txt")
            run.log_artifact(art, aliases=["champion"] if i == 3 else None)
            if i == 3:  # a registry link, found by its own alias and by its source's metadata
                run.link_artifact(art, "reg/best-classifier", aliases=["production"])
        write(work / "d.txt", "data")
        data = cairn.Artifact("flowers", "dataset", metadata={"source": "meadow 50%"})
        data.add_file(str(work / "d.txt"))
        run.log_artifact(data, tags=["curated"])
    with cairn.init(entity="other", project="hid") as run:
        write(work / "o.txt", "other")
        art = cairn.Artifact("other-only-name", "model", metadata={"note": "zebra-adam", "sneaky": "champion"})
        art.add_file(str(work / "o.txt"))
        run.log_artifact(art, aliases=["champion"])
        # a link readable by the viewer whose source is not: never found, shown or counted
        run.link_artifact(art, "local/reg/leaked-link", aliases=["production-leak"])
    meta = MetaStore.sqlite(home / "meta.sqlite")
    try:
        keys = {"viewer": auth.create_user(meta, "viewer"), "boss": auth.create_user(meta, "boss")}
        auth.add_member(meta, "local", "viewer", "read")
        for entity in ("local", "other"):
            auth.add_member(meta, entity, "boss", "read")
        return keys
    finally:
        meta.dispose()


def login(page, url: str, key: str, target: str) -> None:  # noqa: ANN001
    page.goto(url + "/-/login?next=" + target)
    page.locator("#key").fill(key)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url + target)


def search(page, text: str) -> list[str]:  # noqa: ANN001
    page.get_by_label("Search for").fill(text)
    page.get_by_role("button", name="Search").click()
    page.locator("#results").wait_for()
    return page.locator("#results tbody tr td:first-child a").all_inner_texts()


def test_search_by_metadata_value_finds_nothing_of_another_entity(ui_server_with_users, page) -> None:  # noqa: ANN001
    url, keys = ui_server_with_users.url, ui_server_with_users.info
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, url, keys["viewer"], "/")
    page.get_by_role("link", name="Search").click()
    page.wait_for_url(url + "/-/search")
    found = search(page, "ZEBRA-adam")  # a nested metadata value, any case
    assert found == ["local/reg/best-classifier:v0"] + [f"local/find/classifier:v{i}" for i in (3, 2, 1, 0)]
    assert "→ link to local/find/classifier:v3" in page.locator("#results tbody tr").first.inner_text()
    assert "metadata optimizer.name=zebra-adam" in page.locator("#results tbody tr").nth(1).inner_text()
    # a link by its own alias and name; one whose source is another entity's is not there at all
    assert search(page, "production") == ["local/reg/best-classifier:v0"]
    assert search(page, "leaked") == [] and search(page, "production-leak") == []
    assert "leaked" not in page.content()
    assert "other" not in page.locator("#results").inner_text()
    # key=value looks at that key only
    assert search(page, "optimizer=0.002") == ["local/find/classifier:v1"]
    assert search(page, "acc=zebra") == []
    # by alias, tag-less name, type; another entity's alias and name are not found
    assert search(page, "champion") == ["local/find/classifier:v3"]  # the link holds no "champion" alias
    assert search(page, "other-only") == []
    assert "Nothing you can read matches" in page.locator("#results").inner_text()
    assert search(page, "flowers") == ["local/find/flowers:v0"]
    assert search(page, "CURATED") == ["local/find/flowers:v0"]
    assert set(search(page, "dataset")) == {"local/find/flowers:v0"}
    # a metadata key is not a value; LIKE wildcards are plain characters
    assert search(page, "secretkey") == []
    assert search(page, "%") == ["local/find/flowers:v0"]  # "meadow 50%" holds a real %
    assert search(page, "_") == []
    # hostile metadata matched and shown as text
    assert len(search(page, "onerror")) == 5  # four versions and the link to one
    assert page.locator("#results img").count() == 0
    assert dialogs == [] and page.js_errors == []


def test_a_reader_of_both_entities_finds_both(ui_server_with_users, page) -> None:  # noqa: ANN001
    url, keys = ui_server_with_users.url, ui_server_with_users.info
    login(page, url, keys["boss"], "/-/search?q=zebra-adam")
    found = page.locator("#results tbody tr td:first-child a").all_inner_texts()
    assert "other/hid/other-only-name:v0" in found and "local/reg/leaked-link:v0" in found and len(found) == 7
    page.goto(url + "/-/search?q=production-leak")  # boss reads both ends of the link
    assert page.locator("#results tbody tr td:first-child a").all_inner_texts() == ["local/reg/leaked-link:v0"]
    # a bad query is a 400 page that says what to do, never a 500
    response = page.goto(url + "/-/search?q=" + "x" * 201)
    assert response.status == 400 and "at most 200 characters" in page.locator("[role=alert]").inner_text()
    assert page.goto(url + "/-/search?q=%00").status == 400
    assert page.goto(url + "/-/search").status == 200
    assert page.js_errors == []


def test_compare_metadata_columns_sorting_and_chart(ui_server_with_users, page) -> None:  # noqa: ANN001
    url, keys = ui_server_with_users.url, ui_server_with_users.info
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, url, keys["viewer"], "/local/find/classifier")
    page.get_by_role("link", name="Compare metadata").click()
    page.wait_for_url(url + "/-/compare/local/find/classifier")
    heads = page.locator("#compare thead th").all_inner_texts()
    assert [h.lower() for h in heads[:3]] == ["version ↓", "acc", "step"]

    def column(i: int) -> list[str]:
        return [r.split("\t")[i] for r in page.locator("#compare tbody tr").all_inner_texts()]

    assert column(0) == ["v3", "v2", "v1", "v0"]
    page.locator("#compare thead").get_by_role("link", name="acc").click()
    page.wait_for_url("**sort=acc**")
    assert column(1) == ["0.9", "0.83", "0.72", "0.61"]  # highest first
    page.locator("#compare thead").get_by_role("link", name="acc ↓").click()
    page.wait_for_url("**desc=0**")
    assert column(1) == ["0.61", "0.72", "0.83", "0.9"]
    # choose the columns: step and the hostile key (shown as text)
    page.get_by_label("acc", exact=True).uncheck()
    page.get_by_label(HOSTILE, exact=True).check()
    page.get_by_label("chart step").check()  # two charts: acc and step
    page.get_by_label("chart acc").check()
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**keys=**")
    heads = [h.lower() for h in page.locator("#compare thead th").all_inner_texts()]
    assert heads[1:3] == ["step", HOSTILE.lower()]
    assert column(2) == [HOSTILE] * 4
    charts = page.locator("#charts figure.chart")
    assert charts.locator("h2").all_inner_texts() == ["acc across versions", "step across versions"]
    assert charts.nth(1).locator("circle.dot").count() == 4
    page.screenshot(path="/tmp/cairn-ui-compare.png", full_page=True)
    titles = sorted(t.text_content() for t in charts.nth(1).locator("circle.dot title").all())
    assert titles == ["v0: 400", "v1: 300", "v2: 200", "v3: 100"]
    titles = sorted(t.text_content() for t in charts.nth(0).locator("circle.dot title").all())
    assert titles == ["v0: 0.61", "v1: 0.83", "v2: 0.72", "v3: 0.9"]
    assert page.locator("main img").count() == 0
    assert dialogs == [] and page.js_errors == []


def test_compare_sorts_on_the_server_across_pages(ui_server_with_users, page, monkeypatch) -> None:  # noqa: ANN001
    from cairn.server import ui_find

    monkeypatch.setattr(ui_find, "COMPARE_PAGE", 3)  # the server runs in this process: 4 versions, 2 pages
    url, keys = ui_server_with_users.url, ui_server_with_users.info
    login(page, url, keys["viewer"], "/")
    page.goto(url + "/-/compare/local/find/classifier?sort=acc&desc=0")

    def column(i: int) -> list[str]:
        return [r.split("\t")[i] for r in page.locator("#compare tbody tr").all_inner_texts()]

    assert column(1) == ["0.61", "0.72", "0.83"]  # the lowest three of all four, not of a page
    assert "versions 1–3 of 4" in page.locator("nav.pager").inner_text()
    page.locator("nav.pager").get_by_role("link", name="Next →").click()
    page.wait_for_url("**page=2**")
    assert column(1) == ["0.9"] and column(0) == ["v3"]
    page.locator("#compare thead").get_by_role("link", name="acc ↑").click()  # flips, back to page 1
    page.wait_for_url("**desc=1**")
    assert "page=" not in page.url and column(1) == ["0.9", "0.83", "0.72"]
    page.locator("#compare thead").get_by_role("link", name="step").click()
    assert column(2) == ["400", "300", "200"] and column(0) == ["v0", "v1", "v2"]
    page.locator("nav.pager").get_by_role("link", name="Next →").click()
    page.wait_for_url("**page=2**")
    assert column(0) == ["v3"] and "sort=step" in page.url
    assert page.goto(url + "/-/compare/local/find/classifier?page=99&sort=acc").status == 200  # clamped
    assert "versions 4–4 of 4" in page.locator("nav.pager").inner_text()
    assert page.js_errors == []


def test_compare_is_for_readers_only(ui_server_with_users, page) -> None:  # noqa: ANN001
    url, keys = ui_server_with_users.url, ui_server_with_users.info
    login(page, url, keys["viewer"], "/")
    assert page.goto(url + "/-/compare/other/hid/other-only-name").status == 404
    assert "other-only-name" not in page.content().split("</title>", 1)[1].split("Not found", 1)[0]
    assert page.goto(url + "/-/compare/local/find/nothing").status == 404
    assert page.goto(url + "/-/compare/local/find/classifier?keys=nope&sort=nope&chart=nope").status == 200
    for bad in (
        "page=0",
        "page=-3",
        "page=abc",
        "page=99999999999",
        "chart=%3Cscript%3E&chart=acc&chart=acc",
        "desc=%00",
    ):
        assert page.goto(url + "/-/compare/local/find/classifier?" + bad).status == 200, bad
        assert page.locator("#compare tbody tr").count() == 4 and page.locator("main script").count() == 0
    # the registry collection's compare page lists no link whose source the viewer cannot read
    assert page.goto(url + "/-/compare/local/reg/leaked-link").status == 404
    assert page.goto(url + "/local/reg/leaked-link").status == 404
    assert page.js_errors == []

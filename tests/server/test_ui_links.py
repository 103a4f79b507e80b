"""The web UI shows links, in Chromium: a linked version says where it points (and serves
its source's files), the collection of links shows each link's source, and a logged
collection lists where its versions are linked."""

from __future__ import annotations

from pathlib import Path

from helpers import write

import cairn


def build_store(home: Path) -> dict:
    work = home / "work"
    write(work / "w1.bin", "weights one")
    write(work / "w2.bin", "weights two")
    with cairn.init(project="train") as run:
        first = cairn.Artifact("net", "model")
        first.add_file(str(work / "w1.bin"), name="model.bin")
        run.log_artifact(first)
        second = cairn.Artifact("net", "model")
        second.add_file(str(work / "w2.bin"), name="model.bin")
        run.log_artifact(second)
        run.link_artifact(first, "registry/best", aliases=["prod"])
        run.link_artifact(second, "registry/best", aliases=["staging"])
    return {}


def test_a_linked_version_shows_where_it_points_and_serves_its_files(ui_server, page) -> None:  # noqa: ANN001
    page.goto(ui_server.url + "/local/registry/best/prod")
    banner = page.locator(".link-banner")
    assert banner.get_attribute("data-link-source") == "local/train/net:v0"
    assert "Link to local/train/net:v0" in banner.inner_text()
    with page.expect_download() as dl:
        page.get_by_role("link", name="Download", exact=True).first.click()
    assert Path(dl.value.path()).read_text() == "weights one"
    banner.get_by_role("link", name="local/train/net:v0").click()
    page.wait_for_url(ui_server.url + "/local/train/net/v0")
    linked = page.locator("#links")
    assert "local/registry/best:v0" in linked.inner_text()
    assert page.locator(".link-banner").count() == 0
    assert page.js_errors == []


def test_the_collection_pages_list_links(ui_server, page) -> None:  # noqa: ANN001
    page.goto(ui_server.url + "/local/registry/best")
    sources = page.locator("td.link-source").all_inner_texts()
    assert sources == ["local/train/net:v1", "local/train/net:v0"]  # newest first
    assert "links to" in page.locator("thead").first.inner_text().lower()
    page.goto(ui_server.url + "/local/train/net")
    rows = page.locator("#links tbody tr").all_inner_texts()
    assert len(rows) == 2
    assert any("local/registry/best:v0" in r and "prod" in r for r in rows)
    assert any("local/registry/best:v1" in r and "staging" in r for r in rows)
    page.locator("#links").get_by_role("link", name="local/registry/best:v1").click()
    page.wait_for_url(ui_server.url + "/local/registry/best/v1")
    assert page.js_errors == []

"""Editing a version from the web UI, in Chromium: aliases, tags, description, metadata and
deletion through the same JSON API the SDK uses; CSRF refusals; a reader sees no controls
and is refused by the API; each change is in the version's history; hostile metadata stays
text."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from helpers import write

import cairn
from cairn.client import reset_clients

HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>"


def build_store_with_users(home: Path) -> dict:
    from cairn.engine import accounts as auth
    from cairn.storage.meta.sql import MetaStore

    work = home / "work"
    with cairn.init(project="edit") as run:
        for i in range(3):
            write(work / f"m{i}.txt", f"model {i}")
            art = cairn.Artifact("net", "model", metadata={"acc": 0.5 + i / 10})
            art.add_file(str(work / f"m{i}.txt"), name="model.txt")
            run.log_artifact(art, aliases=["prod"] if i == 0 else None)
        write(work / "h.txt", "hostile")
        art = cairn.Artifact("evil", "dataset", description=HOSTILE, metadata={HOSTILE: HOSTILE, "x": [HOSTILE]})
        art.add_file(str(work / "h.txt"))
        run.log_artifact(art)
    meta = MetaStore.sqlite(home / "meta.sqlite")
    try:
        keys = {"writer": auth.create_user(meta, "wendy"), "reader": auth.create_user(meta, "rita")}
        auth.add_member(meta, "local", "wendy", "write")
        auth.add_member(meta, "local", "rita", "read")
        return keys
    finally:
        meta.dispose()


@pytest.fixture
def sdk(ui_server_with_users, monkeypatch):  # noqa: ANN001, ANN201
    """The SDK pointed at the UI's server as the writer."""
    monkeypatch.setenv("CAIRN_BASE_URL", ui_server_with_users.url)
    monkeypatch.setenv("CAIRN_API_KEY", ui_server_with_users.info["writer"])
    monkeypatch.setenv("CAIRN_ENTITY", "local")
    monkeypatch.setenv("CAIRN_SETTINGS", "/nonexistent/settings.json")
    reset_clients()
    yield cairn.Api()
    reset_clients()


def login(page, url: str, key: str, target: str) -> None:  # noqa: ANN001
    page.goto(url + "/-/login?next=" + target)
    page.locator("#key").fill(key)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url + target)


def edit_box(page):  # noqa: ANN001, ANN201
    return page.locator("#edit")


def wait_status(page, text: str) -> None:  # noqa: ANN001
    page.locator("#edit .edit-status", has_text=text).wait_for()


def test_an_alias_added_moved_and_removed_in_the_ui_is_seen_by_the_sdk(ui_server_with_users, page, sdk) -> None:  # noqa: ANN001
    url = ui_server_with_users.url
    login(page, url, ui_server_with_users.info["writer"], "/local/edit/net/v1")
    box = edit_box(page)
    box.get_by_label("New alias").fill("best")
    with page.expect_navigation():
        box.get_by_role("button", name="Add alias").click()
    assert "best" in page.locator("#edit-aliases").inner_text()
    assert sdk.artifact("local/edit/net:best").version == "v1"
    # moving: the same alias added on v2 leaves v1
    page.goto(url + "/local/edit/net/v2")
    box.get_by_label("New alias").fill("best")
    with page.expect_navigation():
        box.get_by_role("button", name="Add alias").click()
    assert sdk.artifact("local/edit/net:best").version == "v2"
    assert "best" not in sdk.artifact("local/edit/net:v1").aliases
    page.goto(url + "/local/edit/net/v1")
    assert "alias best moved to another version" in page.locator("#history").inner_text()
    # removing
    page.goto(url + "/local/edit/net/v2")
    with page.expect_navigation():
        box.get_by_role("button", name="Remove alias best").click()
    assert "best" not in sdk.artifact("local/edit/net:v2").aliases
    page.locator("#history tbody tr", has_text="−best").wait_for()
    history = page.locator("#history tbody tr").all_inner_texts()
    assert "aliases −best" in history[0] and "wendy" in history[0]
    assert "aliases +best" in history[1]
    assert page.js_errors == []


def test_tags_description_and_metadata_edited_in_the_ui(ui_server_with_users, page, sdk) -> None:  # noqa: ANN001
    url = ui_server_with_users.url
    login(page, url, ui_server_with_users.info["writer"], "/local/edit/net/v0")
    box = edit_box(page)
    box.get_by_label("New tag").fill("reviewed")
    with page.expect_navigation():
        box.get_by_role("button", name="Add tag").click()
    box.locator("#edit-description").fill("the first net")
    with page.expect_navigation():
        box.get_by_role("button", name="Save description").click()
    # metadata that is not JSON, or not an object, is refused before anything is sent
    box.locator("#edit-metadata").fill('{"acc": 0.9,')
    box.get_by_role("button", name="Save metadata").click()
    wait_status(page, "not valid JSON")
    box.locator("#edit-metadata").fill("[1, 2]")
    box.get_by_role("button", name="Save metadata").click()
    wait_status(page, "must be a JSON object")
    assert sdk.artifact("local/edit/net:v0").metadata == {"acc": 0.5}
    box.locator("#edit-metadata").fill('{"acc": 0.91, "step": 7}')
    with page.expect_navigation():
        box.get_by_role("button", name="Save metadata").click()
    got = sdk.artifact("local/edit/net:v0")
    assert got.metadata == {"acc": 0.91, "step": 7}
    assert got.description == "the first net"
    assert "reviewed" in got.tags
    # the server validates too: a metadata the server refuses shows its message
    big = "{" + ", ".join(f'"k{i}": {i}' for i in range(101)) + "}"
    box.locator("#edit-metadata").fill(big)
    box.get_by_role("button", name="Save metadata").click()
    wait_status(page, "at most 100 are allowed")
    assert sdk.artifact("local/edit/net:v0").metadata == {"acc": 0.91, "step": 7}
    page.reload()
    with page.expect_navigation():
        box.get_by_role("button", name="Remove tag reviewed").click()
    assert "reviewed" not in sdk.artifact("local/edit/net:v0").tags
    page.screenshot(path="/tmp/cairn-ui-edit.png", full_page=True)
    text = page.locator("#history").inner_text()
    for change in ("tags +reviewed", "tags −reviewed", "description", "metadata acc, step"):
        assert change in text
    assert page.js_errors == []


def test_deleting_follows_the_sdk_rules(ui_server_with_users, page, sdk) -> None:  # noqa: ANN001
    url = ui_server_with_users.url
    login(page, url, ui_server_with_users.info["writer"], "/local/edit/net/prod")
    box = edit_box(page)
    box.locator("summary", has_text="Delete this version").click()
    box.get_by_role("button", name="Delete net:v0").click()
    wait_status(page, "pass delete_aliases=True")
    assert sdk.artifact("local/edit/net:v0").aliases == ["prod"]
    box.get_by_label("also remove its aliases").check()
    with page.expect_navigation(url=url + "/local/edit/net"):
        box.get_by_role("button", name="Delete net:v0").click()
    with pytest.raises(cairn.errors.CommError):
        sdk.artifact("local/edit/net:v0")
    with pytest.raises(cairn.errors.CommError):
        sdk.artifact("local/edit/net:prod")
    assert page.js_errors == []


def test_a_cookie_request_without_the_csrf_token_is_refused(ui_server_with_users, page, sdk) -> None:  # noqa: ANN001
    url, keys = ui_server_with_users.url, ui_server_with_users.info
    login(page, url, keys["writer"], "/local/edit/net/v1")
    vid = int(edit_box(page).get_attribute("data-version-id"))
    token = edit_box(page).get_attribute("data-csrf")
    api = url + f"/api/v1/versions/{vid}"
    # the browser's own cookie, no token / a wrong token / another login's token: 403, nothing changes
    for headers in ({}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": token[:-1] + ("0" if token[-1] != "0" else "1")}):
        r = page.request.patch(api, data={"description": "forged"}, headers=headers)
        assert r.status == 403, r.text()
        assert "CSRF" in r.json()["error"]["message"]
        r = page.request.delete(api + "?delete_aliases=true", headers=headers)
        assert r.status == 403
    assert sdk.artifact("local/edit/net:v1").description != "forged"
    # a cross-site form post carries the cookie only where SameSite lets it; the cookie is Strict
    cookie = next(c for c in page.context.cookies() if c["name"] == "cairn_key")
    assert cookie["sameSite"] == "Strict" and cookie["httpOnly"]
    # reads need no token; the page's token works; a bearer key needs none
    assert page.request.get(api).status == 200
    r = page.request.patch(api, data={"description": "by cookie"}, headers={"X-CSRF-Token": token})
    assert r.status == 200, r.text()
    r = httpx.patch(api, json={"description": "by key"}, headers={"Authorization": f"Bearer {keys['writer']}"})
    assert r.status_code == 200, r.text
    assert sdk.artifact("local/edit/net:v1").description == "by key"
    # a browser request without any key (a forged request to an open store) needs a token too;
    # here the key is missing, so it is refused before anything is read
    r = httpx.patch(api, json={"description": "x"}, headers={"Origin": "https://evil.example"})
    assert r.status_code in (401, 403)


def test_a_reader_sees_no_controls_and_the_api_refuses(ui_server_with_users, page, sdk) -> None:  # noqa: ANN001
    from cairn.engine.accounts import store_secret
    from cairn.server import csrf
    from cairn.storage.meta.sql import MetaStore

    url, keys = ui_server_with_users.url, ui_server_with_users.info
    login(page, url, keys["reader"], "/local/edit/net/v1")
    assert page.locator("h1").inner_text().startswith("net")
    assert page.locator("#edit").count() == 0
    assert page.locator("[data-remove-alias], [data-edit]").count() == 0
    assert page.locator("#history").count() == 1  # the history is for readers too
    vid = sdk.artifact("local/edit/net:v1").id
    meta = MetaStore.sqlite(ui_server_with_users.home / "meta.sqlite")
    try:
        token = csrf.token(
            store_secret(meta, csrf.SETTING), keys["reader"]
        )  # even with a valid token, the role decides
    finally:
        meta.dispose()
    api = url + f"/api/v1/versions/{vid}"
    for r in (
        page.request.patch(api, data={"description": "reader"}, headers={"X-CSRF-Token": token}),
        page.request.delete(api, headers={"X-CSRF-Token": token}),
    ):
        assert r.status == 403, r.text()
        assert "'write' role" in r.json()["error"]["message"]
    r = httpx.patch(api, json={"aliases": ["mine"]}, headers={"Authorization": f"Bearer {keys['reader']}"})
    assert r.status_code == 403
    assert "mine" not in sdk.artifact("local/edit/net:v1").aliases
    assert page.js_errors == []


def test_metadata_with_html_is_shown_as_text(ui_server_with_users, page) -> None:  # noqa: ANN001
    url = ui_server_with_users.url
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, url, ui_server_with_users.info["writer"], "/local/edit/evil/v0")
    assert HOSTILE in page.locator("pre.json").first.inner_text()
    assert HOSTILE in page.locator("#edit-metadata").input_value()
    assert page.locator("#edit-description").input_value() == HOSTILE
    assert page.locator("img[src=x], main script").count() == 0
    # saved back unchanged, it stays text: no script runs on the reloaded page
    with page.expect_navigation():
        page.get_by_role("button", name="Save metadata").click()
    assert HOSTILE in page.locator("pre.json").first.inner_text()
    assert dialogs == [] and page.js_errors == []


def build_open_store(home: Path) -> dict:
    work = home / "work"
    write(work / "a.txt", "a")
    with cairn.init(project="open") as run:
        art = cairn.Artifact("thing", "dataset")
        art.add_file(str(work / "a.txt"))
        run.log_artifact(art)
    return {}


def test_an_open_store_is_edited_from_its_pages_only(serve_store, tmp_path, page) -> None:  # noqa: ANN001
    """Without users everyone is admin and no cookie exists: a browser still needs the page's
    token (another site could otherwise change a local store through the user's browser);
    a client that is not a browser (the SDK) needs none."""
    with serve_store(tmp_path / "open", build_open_store) as s:
        page.goto(s.url + "/local/open/thing/v0")
        page.get_by_label("New alias").fill("picked")
        with page.expect_navigation():
            page.get_by_role("button", name="Add alias").click()
        assert "picked" in page.locator("#edit-aliases").inner_text()
        vid = page.locator("#edit").get_attribute("data-version-id")
        api = s.url + f"/api/v1/versions/{vid}"
        forged = page.request.patch(api, data={"description": "forged"}, headers={"Origin": "https://evil.example"})
        assert forged.status == 403 and "CSRF" in forged.json()["error"]["message"]
        r = page.evaluate(
            """async (api) => (await fetch(api, {method: "PATCH", headers: {"Content-Type": "application/json"},
                                   body: JSON.stringify({description: "from a script"})})).status""",
            api,
        )
        assert r == 403  # same origin, but no token
        assert httpx.patch(api, json={"description": "by the sdk"}).status_code == 200
        history = [row["by"] for row in httpx.get(api + "/history").json()["history"]]
        assert history == ["local", "local"]  # the SDK's description, then the UI's alias
        assert page.js_errors == []

"""A version page's usage snippets and its streamed .tar downloads, timestamps in the viewer's
time zone, and pages at a phone's width (390 px), in Chromium against a real server."""

from __future__ import annotations

import io
import tarfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from helpers import write

import cairn

FILES = {
    "README.md": b"# hello\n",
    "a.txt": b"alpha\n",
    "train/cats/1.txt": b"one cat\n",
    "train/cats/2.txt": b"two cats\n",
    "train/dogs/1.txt": b"one dog\n",
    "val/x.bin": bytes(range(256)) * 4099,  # ~1 MiB, not a multiple of 512
    "<img src=x onerror=alert(1)>/name.txt": b"hostile folder name\n",
    "empty.txt": b"",
}


def _save(work: Path, project: str) -> None:
    art = cairn.Artifact("data", "dataset", metadata={"note": "<b>not bold</b>"})
    for i, (name, data) in enumerate(FILES.items()):
        art.add_file(str(write(work / "src" / f"f{i}", data)), name=name)
    ref = write(work / "elsewhere.txt", b"stored elsewhere\n")
    art.add_reference(ref.as_uri(), name="refs/outside.txt")
    art.save(project=project)


def build_store(home: Path) -> dict:
    _save(home / "work", "demo")
    return {}


def build_store_with_users(home: Path) -> dict:
    from cairn.engine import accounts as auth
    from cairn.storage.meta.sql import MetaStore

    _save(home / "work", "demo")
    meta = MetaStore.sqlite(home / "meta.sqlite")
    try:
        alice = auth.create_user(meta, "alice")
        auth.add_member(meta, "local", "alice", "read")
        return {"alice": alice, "bob": auth.create_user(meta, "bob")}
    finally:
        meta.dispose()


def _members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def test_archive_of_the_version_and_of_a_folder(ui_server) -> None:  # noqa: ANN001
    base = f"{ui_server.url}/local/demo/data/v0/archive"
    with httpx.stream("GET", base) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/x-tar"
        assert r.headers["content-disposition"].startswith('attachment; filename="data-v0.tar"')
        assert "content-length" not in r.headers  # streamed, not built first
        body = b"".join(r.iter_bytes())
    members = _members(body)
    refs = members.pop("data-v0/CAIRN-REFERENCES.txt").decode()
    assert members == {f"data-v0/{k}": v for k, v in FILES.items()}
    assert "refs/outside.txt\tfile://" in refs
    assert len(body) % 512 == 0
    r = httpx.get(base, params={"path": "train/"})
    assert r.status_code == 200 and 'filename="data-v0-train.tar"' in r.headers["content-disposition"]
    assert _members(r.content) == {
        "data-v0-train/cats/1.txt": b"one cat\n",
        "data-v0-train/cats/2.txt": b"two cats\n",
        "data-v0-train/dogs/1.txt": b"one dog\n",
    }
    r = httpx.get(base, params={"path": "train/cats"})  # the trailing slash is optional
    assert sorted(_members(r.content)) == ["data-v0-train-cats/1.txt", "data-v0-train-cats/2.txt"]
    r = httpx.get(f"{ui_server.url}/local/demo/data/latest/archive", params={"path": "<img src=x onerror=alert(1)>"})
    assert _members(r.content) == {"data-v0-<img src=x onerror=alert(1)>/name.txt": b"hostile folder name\n"}


def test_archive_bad_paths_are_404(ui_server) -> None:  # noqa: ANN001
    base = f"{ui_server.url}/local/demo/data"
    for url, params in (
        (f"{base}/v0/archive", {"path": "nope/"}),
        (f"{base}/v0/archive", {"path": "tra"}),
        (f"{base}/v0/archive", {"path": "a.txt"}),
        (f"{base}/v7/archive", {}),
        (f"{ui_server.url}/local/other/data/v0/archive", {}),
        (f"{base}/v0/archive", {"path": "../../etc/"}),
    ):
        r = httpx.get(url, params=params)
        assert r.status_code == 404, (url, params)
        assert r.headers["content-type"].startswith("text/html") and "alert(" not in r.text


def test_archive_needs_the_read_role(ui_server_with_users) -> None:  # noqa: ANN001
    s = ui_server_with_users
    url = f"{s.url}/local/demo/data/v0/archive"
    for who, status in ((s.info["bob"], 404), ("not-a-key", 401), (None, 401), (s.info["alice"], 200)):
        r = httpx.get(url, headers={"Authorization": f"Bearer {who}"} if who else {})
        assert r.status_code == status, who
        if status == 200:
            assert "data-v0/a.txt" in _members(r.content)
        else:
            assert b"alpha" not in r.content and r.headers["content-type"].startswith("text/html")


def test_usage_snippets_and_download_buttons(ui_server, page) -> None:  # noqa: ANN001
    page.goto(f"{ui_server.url}/local/demo/data/v0")
    usage = page.locator("#usage")
    sdk = usage.locator("[data-snippet='sdk'] pre").inner_text()
    assert 'run = wandb.init(project="demo", entity="local")' in sdk
    assert 'run.use_artifact("local/demo/data:v0").download()' in sdk
    assert usage.locator("[data-snippet='cli'] pre").inner_text() == (
        f"CAIRN_BASE_URL={ui_server.url} cairn artifact get local/demo/data:v0"
    )
    curl = usage.locator("[data-snippet='http'] pre").inner_text()
    assert (
        curl
        == f'curl -fL -H "Authorization: Bearer $CAIRN_API_KEY" -o data-v0.tar "{ui_server.url}/local/demo/data/v0/archive"'
    )
    for kind in ("sdk", "cli", "http"):  # each copy button holds exactly the text shown
        block = usage.locator(f"[data-snippet='{kind}']")
        assert block.locator("button.copy").get_attribute("data-copy") == block.locator("pre").inner_text()
    with page.expect_download() as dl:
        usage.get_by_role("link", name="Download this version (.tar)").click()
    assert "data-v0/val/x.bin" in _members(Path(dl.value.path()).read_bytes())
    page.goto(f"{ui_server.url}/local/demo/data/v0?path=train/")
    with page.expect_download() as dl:
        page.locator("a[data-archive='folder']").click()
    assert dl.value.suggested_filename == "data-v0-train.tar"
    assert len(_members(Path(dl.value.path()).read_bytes())) == 3
    page.goto(f"{ui_server.url}/local/demo/data/v0")
    assert page.locator("a[data-archive='folder']").count() == 0  # the whole version has its own button


def test_folders_are_listed_before_files(ui_server, page) -> None:  # noqa: ANN001
    page.goto(f"{ui_server.url}/local/demo/data/v0")
    names = [r.split("\t")[0].strip() for r in page.locator("table.file-table tbody tr").all_inner_texts()]
    assert names == ["<img src=x onerror=alert(1)>/", "refs/", "train/", "val/", "README.md", "a.txt", "empty.txt"]


def test_timestamps_in_the_viewers_time_zone(browser, ui_server) -> None:  # noqa: ANN001
    context = browser.new_context(timezone_id="Asia/Kolkata", locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"{ui_server.url}/local/demo/data/v0")
        t = page.locator("dl.facts time").first
        page.wait_for_function("() => document.querySelector('dl.facts time').dataset.local === '1'")
        utc = datetime.fromisoformat(t.get_attribute("datetime").replace("Z", "+00:00"))
        assert utc.tzinfo == timezone.utc and abs(datetime.now(timezone.utc) - utc) < timedelta(days=1)
        ist = utc + timedelta(hours=5, minutes=30)
        text = t.inner_text()
        assert text.startswith(ist.strftime("%Y-%m-%d %H:%M") + " GMT+5:30 · "), text
        assert text.endswith("ago") or text.endswith("now") or "minute" in text, text
        assert t.get_attribute("title") == utc.strftime("%Y-%m-%d %H:%M UTC")  # the UTC text as the tooltip
    finally:
        context.close()


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/local/demo",
        "/local/demo/data",
        "/local/demo/data/v0",
        "/local/demo/data/v0?path=train/cats/",
        "/local/demo/data/v0?path=README.md",
        "/local/demo/data/v0?path=val/x.bin",
        "/local/demo/data/diff?a=v0&b=v0",
    ],
)
def test_pages_fit_a_phone_390px_wide(browser, ui_server, path, tmp_path) -> None:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        assert page.goto(ui_server.url + path).status == 200
        page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        # nothing makes the page scroll sideways (wide tables and code scroll inside their box)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        wide = page.evaluate("""() => {
            const clipped = (e) => {  // inside a box that scrolls (or clips) sideways on its own
                for (let a = e.parentElement; a && a.tagName !== 'MAIN'; a = a.parentElement) {
                    if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)) return true;
                }
                return false;
            };
            return [...document.querySelectorAll('main *')]
                .filter(e => e.getBoundingClientRect().right > 391 && !clipped(e))
                .map(e => e.tagName + '.' + e.className);
        }""")
        assert wide == [], (path, wide[:8])
        assert errors == []
    finally:
        context.close()

"""Every page of the web UI and /api/docs loads in Chromium with every request to anything but
the server refused (as on a machine with no internet): no refused or failed request, no
console error, and the page shows what it should (Swagger UI lists the API's operations)."""

from __future__ import annotations

import pytest
from helpers import write

import cairn


def build_store(home) -> dict:  # noqa: ANN001
    from cairn.cli.demo import make_demo

    list(make_demo())
    write(home / "work/f.txt", "x")
    with cairn.init(project="demo", job_type="train", config={"lr": 0.1}) as run:
        run.use_artifact("images:latest")
        a = cairn.Artifact("model", "model")
        a.add_file(str(home / "work/f.txt"))
        run.log_artifact(a)
        return {"run": run.id}


@pytest.fixture
def offline(browser, ui_server):  # noqa: ANN001, ANN201
    """A page on which any request outside the server is refused and every failure is kept."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    refused: list[str] = []
    problems: list[str] = []

    def route(r) -> None:  # noqa: ANN001
        url = r.request.url
        if url.startswith(ui_server.url + "/") or url == ui_server.url or url.startswith("data:"):
            r.continue_()
        else:
            refused.append(url)
            r.abort("internetdisconnected")

    context.route("**/*", route)
    page = context.new_page()
    page.on("requestfailed", lambda req: problems.append(f"failed: {req.url} {req.failure}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    try:
        yield page, refused, problems
    finally:
        context.close()


def _pages(ui_server) -> list[tuple[str, str]]:  # noqa: ANN001
    run = ui_server.info["run"]
    return [
        ("/", "demo"),
        ("/local/demo", "images"),
        ("/local/demo/images", "v1"),
        ("/local/demo/images/v1", "labels.csv"),
        ("/local/demo/images/v1?path=train/", "img_"),
        ("/local/demo/images/diff?a=v0&b=v1", "labels.csv"),
        ("/local/demo/model/v0", "f.txt"),
        (f"/runs/{run}", "train"),
    ]


def test_every_ui_page_loads_without_the_internet(offline, ui_server):  # noqa: ANN001
    page, refused, problems = offline
    for path, shows in _pages(ui_server):
        response = page.goto(ui_server.url + path, wait_until="networkidle")
        assert response is not None and response.status == 200, path
        assert shows in page.content(), f"{path} does not show {shows!r}"
    assert refused == [] and problems == []


def test_api_docs_load_without_the_internet(offline, ui_server):  # noqa: ANN001
    page, refused, problems = offline
    response = page.goto(ui_server.url + "/api/docs", wait_until="networkidle")
    assert response is not None and response.status == 200
    page.wait_for_selector(".swagger-ui .opblock")  # Swagger UI rendered the operations
    assert page.locator(".swagger-ui .opblock").count() >= 10
    assert "cairn" in page.locator(".swagger-ui .info .title").inner_text()
    assert refused == [] and problems == []

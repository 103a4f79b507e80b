"""The lineage graph pages, in Chromium: a distributed version written by four runs shows
all four; depth is chosen; a large fan-out is one counted group that expands on click; the
drawing pans and zooms; nodes of an entity the viewer cannot read are not there at all."""

from __future__ import annotations

import re
from pathlib import Path

from helpers import write

import cairn
from cairn.engine import lineage
from cairn.server.lineage_layout import BOX_H, BOX_W, layout

WRITERS = [f"writer-{i}" for i in range(4)]
EVALS = 15  # more than the fan-out limit (12)


def build_store_with_users(home: Path) -> dict:
    from cairn.engine import accounts as auth
    from cairn.storage.meta.sql import MetaStore

    work = home / "work"
    write(work / "raw.txt", "raw")
    with cairn.init(project="lin", name="prep", job_type="prep") as run:
        raw = cairn.Artifact("raw", "dataset")
        raw.add_file(str(work / "raw.txt"))
        run.log_artifact(raw)
    for i, name in enumerate(WRITERS):
        write(work / f"shard{i}.txt", f"shard {i}")
        with cairn.init(project="lin", name=name, job_type="shard") as run:
            run.use_artifact("raw:latest")
            part = cairn.Artifact("shards", "dataset")
            part.add_file(str(work / f"shard{i}.txt"))
            if i < len(WRITERS) - 1:
                run.upsert_artifact(part, distributed_id="d1")
            else:
                run.finish_artifact(part, distributed_id="d1")
    write(work / "model.txt", "model")
    with cairn.init(project="lin", name="train", job_type="train") as run:
        run.use_artifact("shards:latest")
        model = cairn.Artifact("model", "model")
        model.add_file(str(work / "model.txt"))
        run.log_artifact(model)
        train_id = run.id
    for i in range(EVALS):
        with cairn.init(project="lin", name=f"eval-{i}", job_type="eval") as run:
            run.use_artifact("model:latest")
    with cairn.init(entity="secret", project="hid", name="hidden-reader-xyz") as run:
        run.use_artifact("local/lin/shards:latest")
        hidden_id = run.id
    meta = MetaStore.sqlite(home / "meta.sqlite")
    try:
        keys = {"viewer": auth.create_user(meta, "viewer"), "boss": auth.create_user(meta, "boss")}
        auth.add_member(meta, "local", "viewer", "read")
        for entity in ("local", "secret"):
            auth.add_member(meta, entity, "boss", "read")
        return {**keys, "train": train_id, "hidden": hidden_id}
    finally:
        meta.dispose()


def login(page, url: str, key: str, target: str) -> None:  # noqa: ANN001
    page.goto(url + "/-/login?next=" + target)
    page.locator("#key").fill(key)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url + target)


def labels(page, kind: str) -> list[str]:  # noqa: ANN001
    return sorted(g.get_attribute("data-label") for g in page.locator(f"#lineage-svg g.node[data-kind={kind}]").all())


def test_a_distributed_version_shows_every_writer(ui_server_with_users, page) -> None:  # noqa: ANN001
    url, info = ui_server_with_users.url, ui_server_with_users.info
    login(page, url, info["viewer"], "/local/lin/shards/v0")
    page.get_by_role("link", name="full graph →").click()
    page.wait_for_url(url + "/local/lin/shards/v0/lineage")
    runs = labels(page, "run")
    assert all(f"run {w}" in runs for w in WRITERS)
    assert "run prep" in runs and "run train" in runs  # two hops up, one down
    assert labels(page, "version") == ["model:v0", "raw:v0", "shards:v0"]
    assert sorted(page.locator("#writers li").all_inner_texts()) == [f"run {w}" for w in WRITERS]
    # every edge is drawn: raw -> 4 writers -> shards -> train -> model; prep -> raw; the eval group
    assert page.locator("#lineage-svg path.edge").count() == 4 + 4 + 1 + 1 + 1 + 1
    # the run of another entity that used shards:v0 is not there, not even counted
    assert "hidden-reader-xyz" not in page.content()
    assert re.search(r"\b6 runs\b", page.locator("#lineage-counts").inner_text())
    assert page.js_errors == []


def test_depth_groups_and_expanding(ui_server_with_users, page) -> None:  # noqa: ANN001
    url, info = ui_server_with_users.url, ui_server_with_users.info
    login(page, url, info["viewer"], "/local/lin/model/v0/lineage")
    # depth 3: model <- train <- shards <- writers; the evals collapsed into one group
    assert labels(page, "group") == [f"{EVALS} runs"]
    assert "run eval-0" not in labels(page, "run")
    page.locator("#depth").select_option("1")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r".*depth=1.*"))
    assert labels(page, "run") == ["run train"] and labels(page, "version") == ["model:v0"]
    page.locator("#depth").select_option("2")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r".*depth=2.*"))
    page.evaluate("window.notReloaded = true")  # gone if the page were loaded again
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.locator("g.node[data-kind=group]").click()
    page.wait_for_url(re.compile(r".*expand=.*"))  # the address follows the graph
    page.locator("#lineage-graph[data-ready='1']").wait_for()
    runs = labels(page, "run")
    assert all(f"run eval-{i}" in runs for i in range(EVALS)) and labels(page, "group") == []
    assert page.evaluate("window.notReloaded") is True  # expanded in place, laid out by the server
    assert [u for u in requests if "/lineage" in u] and all("part=graph" in u for u in requests if "/lineage" in u)
    page.screenshot(path="/tmp/cairn-ui-lineage.png")
    assert labels(page, "version") == ["model:v0", "shards:v0"]
    assert re.search(rf"\b{EVALS + 1} runs\b", page.locator("#lineage-counts").inner_text())
    svg = page.locator("#lineage-svg")  # the swapped-in graph pans and zooms too
    before = float(svg.get_attribute("viewBox").split()[2])
    page.get_by_role("button", name="Zoom in").click()
    assert float(svg.get_attribute("viewBox").split()[2]) < before
    assert "g%3A" in page.locator(".depth-form input[name=expand]").get_attribute("value").replace(":", "%3A")
    page.get_by_role("button", name="Show").click()  # a depth change keeps the expanded group
    page.wait_for_load_state()
    assert labels(page, "group") == [] and page.evaluate("window.notReloaded") is None
    assert page.js_errors == []


def test_pan_and_zoom(ui_server_with_users, page) -> None:  # noqa: ANN001
    url, info = ui_server_with_users.url, ui_server_with_users.info
    login(page, url, info["viewer"], "/local/lin/shards/v0/lineage?depth=4")
    svg = page.locator("#lineage-svg")
    first = [float(x) for x in svg.get_attribute("viewBox").split()]
    page.get_by_role("button", name="Zoom in").click()
    zoomed = [float(x) for x in svg.get_attribute("viewBox").split()]
    assert zoomed[2] < first[2] and zoomed[3] < first[3]
    box = page.locator("#lineage-canvas").bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 20)
    page.mouse.wheel(0, 400)
    wheeled = [float(x) for x in svg.get_attribute("viewBox").split()]
    assert wheeled[2] > zoomed[2]
    page.mouse.move(box["x"] + 30, box["y"] + 300)  # an empty spot at the left edge
    page.mouse.down()
    page.mouse.move(box["x"] + 230, box["y"] + 350, steps=5)
    page.mouse.up()
    panned = [float(x) for x in svg.get_attribute("viewBox").split()]
    assert panned[0] < wheeled[0] and panned[2] == wheeled[2]
    assert page.url.endswith("/lineage?depth=4")  # a drag is not a click on a node
    page.get_by_role("button", name="Fit").click()
    whole = [-10.0, -10.0, float(svg.get_attribute("data-width")), float(svg.get_attribute("data-height"))]
    assert [float(x) for x in svg.get_attribute("viewBox").split()] == whole
    assert page.js_errors == []


def test_roles_decide_what_the_graph_holds(ui_server_with_users, page) -> None:  # noqa: ANN001
    url, info = ui_server_with_users.url, ui_server_with_users.info
    login(page, url, info["boss"], "/local/lin/shards/v0/lineage?depth=1")
    assert "run hidden-reader-xyz" in labels(page, "run")  # boss reads both entities
    page.context.clear_cookies()
    login(page, url, info["viewer"], "/local/lin/shards/v0/lineage?depth=1")
    assert "run hidden-reader-xyz" not in labels(page, "run")
    assert page.goto(url + f"/runs/{info['hidden']}/lineage").status == 404
    assert page.goto(url + f"/runs/{info['hidden']}/lineage?part=graph").status == 404  # the fragment too
    assert "hidden-reader-xyz" not in page.content()
    assert page.goto(url + "/secret/hid/nothing/v0/lineage").status == 404
    # a run's own graph: what it used on the left, what it wrote on the right
    page.goto(url + f"/runs/{info['train']}/lineage?depth=1")
    assert labels(page, "version") == ["model:v0", "shards:v0"]
    # a made-up group key or depth is ignored, never an error
    assert page.goto(url + "/local/lin/model/v0/lineage?depth=99&expand=g:nope,%3Cx%3E").status == 200
    assert page.js_errors == []


def test_two_hundred_nodes_are_laid_out_without_overlap() -> None:
    """The layout of a 200-node graph: every box apart from every other, every edge drawn."""
    g = lineage.Graph("v:0")
    g.nodes["v:0"] = lineage.Node("v:0", "version", 0)
    for layer in (-2, -1, 1, 2):
        for i in range(50 if layer != 2 else 49):
            key = f"r:{layer}:{i}"
            g.nodes[key] = lineage.Node(key, "run", layer)
            near = "v:0" if abs(layer) == 1 else f"r:{layer // 2}:{i % 50}"
            g.edges.append((key, near) if layer < 0 else (near, key))
    assert len(g.nodes) == 200
    shape = layout(g)
    spots = {(b.x, b.y) for b in shape.boxes}
    assert len(spots) == 200
    for a in shape.boxes:
        for b in shape.boxes:
            if a is not b and a.x == b.x:
                assert abs(a.y - b.y) >= BOX_H
    assert len({b.x for b in shape.boxes}) == 5 and all(b.x % 1 == 0 for b in shape.boxes)
    assert len(shape.edges) == len(g.edges) == 199
    assert shape.width == 5 * BOX_W + 4 * 70


def build_big_store(home: Path) -> dict:
    """About 200 nodes around one version, none over the fan-out limit: 12 producers' inputs
    upstream; 12 consumers, their 12 outputs and 12 consumers of each downstream."""
    from cairn.core.manifest import Entry
    from cairn.core.versions import CommitRequest
    from cairn.engine import Engine
    from cairn.storage.blobs.local import LocalBlobStore
    from cairn.storage.meta.sql import MetaStore

    write(home / "work" / "seed.txt", "seed")
    with cairn.init(project="big", name="seed") as run:  # makes the store
        seed = cairn.Artifact("seed", "dataset")
        seed.add_file(str(home / "work" / "seed.txt"))
        run.log_artifact(seed)
    meta, blobs = MetaStore.sqlite(home / "meta.sqlite"), LocalBlobStore(home / "blobs")
    eng = Engine(meta, blobs)

    def version(name: str, run_id: str | None = None) -> int:
        digest, size = blobs.put_bytes(name.encode())
        blobs.flush()
        return eng.commit(
            CommitRequest("local", "big", name, "dataset", entries=[Entry("f", digest, size)], run_id=run_id)
        ).id

    def run(rid: str) -> str:
        return eng.create_run("local", "big", run_id=rid, name=rid).id

    try:
        producer = run("producer")
        for i in range(12):
            v = version(f"in-{i}", run(f"maker-{i}"))
            eng.use_version(producer, v)
        focus = version("focus", producer)
        for i in range(12):
            user = run(f"user-{i}")
            eng.use_version(user, focus)
            out = version(f"out-{i}", user)
            for j in range(12):
                eng.use_version(run(f"reader-{i}-{j}"), out)
        return {"focus": focus}
    finally:
        meta.dispose()
        blobs.close()


def test_two_hundred_nodes_open_legible_at_the_focus(serve_store, tmp_path, page) -> None:  # noqa: ANN001
    """A 194-node graph is drawn whole, and opens at real size around its focus (13 px
    labels), not shrunk to fit; "Fit" then shows it all."""
    with serve_store(tmp_path / "big", build_big_store) as s:
        page.goto(s.url + "/local/big/focus/v0/lineage?depth=3")
        assert page.locator("#lineage-svg g.node").count() == 1 + 1 + 12 + 12 + 12 + 12 + 144
        assert page.locator("#lineage-svg g.node[data-kind=group]").count() == 0
        label = page.locator("#lineage-svg g.node-current .node-label")
        assert label.text_content() == "focus:v0"
        assert 12 <= label.bounding_box()["height"] <= 20  # about the font's size: legible
        canvas = page.locator("#lineage-canvas").bounding_box()
        box = label.bounding_box()
        assert canvas["x"] <= box["x"] <= canvas["x"] + canvas["width"]  # the focus is in view
        page.screenshot(path="/tmp/cairn-ui-lineage-200.png")
        page.get_by_role("button", name="Fit").click()
        assert label.bounding_box()["height"] < 8  # the whole graph, shrunk
        assert page.js_errors == []

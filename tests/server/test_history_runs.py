"""History rows that name a run (alias moves, a version's edits) link to the run of the
project they recorded, and show no run at all to a caller who cannot read that project.

Two projects of two entities hold a run of the same id ``samerun`` (a run id is unique
within its project only): ``lab/proj`` logs and edits ``data`` with its run, and the run
of ``skunk/secret`` links that version into ``lab/registry/reg`` and moves the link's
aliases. ``carol`` reads ``lab`` only; ``bob`` reads ``lab`` and owns ``skunk``. The
server runs in process (SQLite, local blobs) and answers through its API and its pages.
"""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from cairn.core.manifest import Entry
from cairn.core.versions import CommitRequest
from cairn.engine import Engine
from cairn.engine import accounts as auth
from cairn.server.app import create_app
from cairn.storage.blobs.local import LocalBlobStore
from cairn.storage.meta.sql import MetaStore

RUN_FIELDS = ("run_id", "run_entity", "run_project")
NO_RUN = dict.fromkeys(RUN_FIELDS)
LAB_RUN = {"run_id": "samerun", "run_entity": "lab", "run_project": "proj"}
SKUNK_RUN = {"run_id": "samerun", "run_entity": "skunk", "run_project": "secret"}
SECRET = ("skunk", "secret")  # what carol must never read


@pytest.fixture(scope="module")
def world(tmp_path_factory):  # noqa: ANN201
    home = tmp_path_factory.mktemp("history-runs")
    meta, blobs = MetaStore.sqlite(home / "meta.sqlite"), LocalBlobStore(home / "blobs")
    eng = Engine(meta, blobs)
    eng.create_run("lab", "proj", run_id="samerun")
    eng.create_run("skunk", "secret", run_id="samerun")
    digest, size = blobs.put_bytes(b"weights")
    blobs.flush()
    req = CommitRequest(
        "lab", "proj", "data", "model", entries=[Entry("w.bin", digest, size)], aliases=["first"], run_id="samerun"
    )
    data = eng.commit(req)
    eng.update_version(data.id, add_aliases=["edited"], description="edited", run_id="samerun")
    link = eng.link_version(data.id, "lab", "registry", "reg", ["prod"], run_id="skunk/secret/samerun")
    eng.update_version(link.id, add_aliases=["staging"], run_id="skunk/secret/samerun")
    # the same kind of rows with no run, to compare with
    plain = eng.link_version(data.id, "lab", "registry", "plain", ["prod"])
    eng.update_version(plain.id, add_aliases=["staging"])
    keys = {u: auth.create_user(meta, u) for u in ("bob", "carol")}
    auth.add_member(meta, "lab", "bob", "read")
    auth.add_member(meta, "lab", "carol", "read")
    auth.add_member(meta, "skunk", "bob", "admin")
    with TestClient(create_app(meta, blobs)) as client:
        yield {"client": client, "keys": keys, "data": data.id, "link": link.id, "plain": plain.id}
    meta.dispose()
    blobs.close()


def _get(world, who: str, path: str):  # noqa: ANN001, ANN202
    r = world["client"].get(path, headers={"Authorization": f"Bearer {world['keys'][who]}"})
    assert r.status_code == 200, r.text
    return r


def _runs(rows: list[dict]) -> list[dict]:
    return [{k: r[k] for k in RUN_FIELDS} for r in rows]


def _run_links(html: str) -> set[str]:
    return set(re.findall(r'href="(/runs/[^"]*)"', html))


LAB_HREF = "/runs/samerun?entity=lab&amp;project=proj"
SKUNK_HREF = "/runs/samerun?entity=skunk&amp;project=secret"


@pytest.mark.parametrize("who", ["carol", "bob"])
def test_the_alias_log_of_a_project_names_its_own_run(world, who: str) -> None:
    rows = _get(world, who, "/api/v1/projects/lab/proj/artifacts/data/alias-history").json()["history"]
    assert [r["alias"] for r in rows] == ["latest", "first", "edited"]
    assert _runs(rows) == [LAB_RUN] * 3
    page = _get(world, who, "/lab/proj/data").text
    assert _run_links(page) == {LAB_HREF}
    # the link leads to lab's run, not to "the run of that id" (two exist)
    run_page = _get(world, who, LAB_HREF.replace("&amp;", "&")).text
    assert 'href="/lab/proj"' in run_page


def test_a_registry_move_by_a_run_of_an_unreadable_project_shows_no_run(world) -> None:
    rows = _get(world, "carol", "/api/v1/projects/lab/registry/artifacts/reg/alias-history").json()["history"]
    plain = _get(world, "carol", "/api/v1/projects/lab/registry/artifacts/plain/alias-history").json()["history"]
    assert [r["alias"] for r in rows] == [r["alias"] for r in plain] == ["latest", "prod", "staging"]
    # exactly as the rows that name no run
    assert _runs(rows) == _runs(plain) == [NO_RUN] * 3
    # the link's page shows the run that made its source (lab's) and none of the history's
    for path, links in (("/lab/registry/reg", set()), ("/lab/registry/reg/v0", {LAB_HREF})):
        page = _get(world, "carol", path).text
        assert _run_links(page) == links, path
        assert not any(re.search(rf"\b{s}\b", page) for s in SECRET), path
    history = _get(world, "carol", f"/api/v1/versions/{world['link']}/history").json()["history"]
    assert _runs(history) == [NO_RUN] and not any(s in json.dumps(history) for s in SECRET)


def test_a_reader_of_the_runs_project_is_shown_that_run(world) -> None:
    rows = _get(world, "bob", "/api/v1/projects/lab/registry/artifacts/reg/alias-history").json()["history"]
    assert _runs(rows) == [SKUNK_RUN] * 3
    assert _run_links(_get(world, "bob", "/lab/registry/reg").text) == {SKUNK_HREF}
    assert _run_links(_get(world, "bob", "/lab/registry/reg/v0").text) == {LAB_HREF, SKUNK_HREF}
    history = _get(world, "bob", f"/api/v1/versions/{world['link']}/history").json()["history"]
    assert _runs(history) == [SKUNK_RUN]


def test_the_edit_log_names_the_versions_own_run(world) -> None:
    for who in ("carol", "bob"):
        history = _get(world, who, f"/api/v1/versions/{world['data']}/history").json()["history"]
        assert [r["detail"] for r in history] == [{"aliases_added": ["edited"], "description": True}]
        assert _runs(history) == [LAB_RUN]
        assert _run_links(_get(world, who, "/lab/proj/data/v0").text) == {LAB_HREF}

"""Every example of the seed page (shared/spec/000_…txt), verbatim, with ``import cairn as wandb``.

The code blocks below are copied from the page character for character (comments
translated are not: they are the page's own Korean comments); each test runs one or more
blocks in a fresh namespace, in the order a user would, then checks what the store holds.
"""

from __future__ import annotations

import textwrap

import pytest
from helpers import write

import cairn

SINGLE_RUN_INSIDE = """
with wandb.init() as run:
    artifact = wandb.Artifact("artifact_name", "artifact_type")

    # 아티팩트에 파일 및 에셋 추가하기
    # `.add`, `.add_file`, `.add_dir`, `.add_reference` 사용
    artifact.add_file("image1.png")
    run.log_artifact(artifact)
"""

SINGLE_RUN_OUTSIDE = """
artifact = wandb.Artifact("artifact_name", "artifact_type")
# 아티팩트에 파일 및 에셋 추가하기
# `.add`, `.add_file`, `.add_dir`, `.add_reference` 사용
artifact.add_file("image1.png")
artifact.save()
"""

RUN_1 = """
with wandb.init() as run:
    artifact = wandb.Artifact("artifact_name", "artifact_type")
    # 아티팩트에 파일 및 에셋 추가하기
    # `.add`, `.add_file`, `.add_dir`, `.add_reference` 사용
    artifact.add_file("image1.png")
    run.upsert_artifact(artifact, distributed_id="my_dist_artifact")
"""

RUN_2 = """
with wandb.init() as run:
    artifact = wandb.Artifact("artifact_name", "artifact_type")
    # 아티팩트에 파일 및 에셋 추가하기
    # `.add`, `.add_file`, `.add_dir`, `.add_reference` 사용
    artifact.add_file("image2.png")
    run.upsert_artifact(artifact, distributed_id="my_dist_artifact")
"""

RUN_3 = """
with wandb.init() as run:
    artifact = wandb.Artifact("artifact_name", "artifact_type")
    # 아티팩트에 파일 및 에셋 추가하기
    # `.add`, `.add_file`, `.add_dir`, `.add_reference` 사용
    artifact.add_file("image3.png")
    run.finish_artifact(artifact, distributed_id="my_dist_artifact")
"""

GET_INSIDE = """
saved_artifact = run.use_artifact("my_artifact:latest")
"""

GET_OUTSIDE = """
client = wandb.Api()
saved_artifact = client.artifact("my_artifact:latest")
"""

NEW_DRAFT = """
draft_artifact = saved_artifact.new_draft()
"""

DRAFT_ADD = """
draft_artifact.add_file("file_to_add.txt")
"""

DRAFT_REMOVE = """
draft_artifact.remove("file_to_remove.txt")
"""

DRAFT_MODIFY = """
draft_artifact.remove("modified_file.txt")
draft_artifact.add_file("modified_file.txt")
"""

SAVE_INSIDE = """
run.log_artifact(draft_artifact)
"""

SAVE_OUTSIDE = """
draft_artifact.save()
"""

ALL_INSIDE = """
with wandb.init(job_type="modify dataset") as run:
    saved_artifact = run.use_artifact(
        "my_artifact:latest"
    )  # 아티팩트를 가져와서 run에 입력하기
    draft_artifact = saved_artifact.new_draft()  # 드래프트 버전 생성하기

    # 드래프트 버전에서 파일 서브셋을 수정하기
    draft_artifact.add_file("file_to_add.txt")
    draft_artifact.remove("dir_to_remove/")
    run.log_artifact(
        artifact
    )  # 변경 사항을 로그하여 새 버전을 생성하고 run의 출력으로 표시하기
"""

ALL_OUTSIDE = """
client = wandb.Api()
saved_artifact = client.artifact("my_artifact:latest")  # 아티팩트 로드하기
draft_artifact = saved_artifact.new_draft()  # 드래프트 버전 생성하기

# 드래프트 버전에서 파일 서브셋을 수정하기
draft_artifact.remove("deleted_file.txt")
draft_artifact.add_file("modified_file.txt")
draft_artifact.save()  # 드래프트에 대한 변경 사항 커밋하기
"""


def run_block(code: str, ns: dict) -> dict:
    exec(compile(textwrap.dedent(code), "<spec example>", "exec"), ns)
    return ns


def fresh_ns() -> dict:
    import cairn as wandb

    return {"wandb": wandb}


def files_of(name: str) -> dict[str, int]:
    a = cairn.Api().artifact(name)
    return {p: e.size for p, e in a.manifest.entries.items()}


def test_single_run_inside_then_outside_dedups(backend):
    write("image1.png", b"\x89PNG one")
    ns = run_block(SINGLE_RUN_INSIDE, fresh_ns())
    assert ns["artifact"].version == "v0"
    assert ns["artifact"].state == "COMMITTED"
    # Same content logged again outside a run: no new version, the same one is returned.
    ns = run_block(SINGLE_RUN_OUTSIDE, fresh_ns())
    assert ns["artifact"].version == "v0"
    # New content makes v1 and moves latest.
    write("image1.png", b"\x89PNG changed")
    ns = run_block(SINGLE_RUN_OUTSIDE, fresh_ns())
    assert ns["artifact"].version == "v1"
    assert cairn.Api().artifact("artifact_name:latest").version == "v1"
    assert ns["artifact"].logged_by().job_type == "auto"


def test_distributed_runs_three_runs(backend):
    for i in (1, 2, 3):
        write(f"image{i}.png", f"image {i}")
    run_block(RUN_1, fresh_ns())
    run_block(RUN_2, fresh_ns())
    with pytest.raises(cairn.ArtifactNotFoundError):  # the draft is invisible until finished
        cairn.Api().artifact("artifact_name:latest")
    ns = run_block(RUN_3, fresh_ns())
    assert ns["artifact"].version == "v0"
    assert files_of("artifact_name:latest") == {"image1.png": 7, "image2.png": 7, "image3.png": 7}
    # finished for ever: a further upsert to that id is refused
    with pytest.raises(cairn.LockedError, match="my_dist_artifact"):
        run_block(RUN_1, fresh_ns())


def make_my_artifact() -> None:
    for name in ("file_to_remove.txt", "modified_file.txt", "deleted_file.txt", "keep.txt"):
        write(f"seed/{name}", f"original {name}")
    write("seed/dir_to_remove/a.txt", "a")
    write("seed/dir_to_remove/sub/b.txt", "b")
    with cairn.init(job_type="seed") as run:
        a = cairn.Artifact("my_artifact", "dataset")
        a.add_dir("seed")
        run.log_artifact(a)


@pytest.mark.parametrize("get_block", [GET_INSIDE, GET_OUTSIDE])
@pytest.mark.parametrize("save_block", [SAVE_INSIDE, SAVE_OUTSIDE])
@pytest.mark.parametrize("change", ["add", "remove", "modify"])
def test_incremental_steps(get_block, save_block, change, backend):
    make_my_artifact()
    write("file_to_add.txt", "new file")
    write("modified_file.txt", "modified content")
    ns = fresh_ns()
    with cairn.init(job_type="modify dataset") as run:
        ns["run"] = run
        run_block(get_block, ns)
        run_block(NEW_DRAFT, ns)
        run_block({"add": DRAFT_ADD, "remove": DRAFT_REMOVE, "modify": DRAFT_MODIFY}[change], ns)
        run_block(save_block, ns)
    files = files_of("my_artifact:latest")
    before = {
        "file_to_remove.txt",
        "modified_file.txt",
        "deleted_file.txt",
        "keep.txt",
        "dir_to_remove/a.txt",
        "dir_to_remove/sub/b.txt",
    }
    assert cairn.Api().artifact("my_artifact:latest").version == "v1"
    if change == "add":
        assert set(files) == before | {"file_to_add.txt"}
    elif change == "remove":
        assert set(files) == before - {"file_to_remove.txt"}
    else:
        assert set(files) == before
        assert files["modified_file.txt"] == len("modified content")
    assert cairn.Api().artifact("my_artifact:v0").file_count == 6  # v0 is untouched


def test_all_together_outside(backend):
    make_my_artifact()
    write("modified_file.txt", "modified content")
    ns = run_block(ALL_OUTSIDE, fresh_ns())
    assert ns["draft_artifact"].version == "v1"
    files = files_of("my_artifact:latest")
    assert "deleted_file.txt" not in files
    assert files["modified_file.txt"] == len("modified content")
    assert len(files) == 5


def test_all_together_inside_verbatim_and_as_intended(backend):
    """The page's last example logs ``artifact``, a name it never defines: verbatim it works
    only where an earlier example left ``artifact`` behind (then that artifact is re-logged
    and deduplicated). With ``draft_artifact`` — what the page means — the draft is logged."""
    make_my_artifact()
    write("file_to_add.txt", "new file")
    write("image1.png", "img")
    ns = run_block(SINGLE_RUN_OUTSIDE, fresh_ns())
    run_block(ALL_INSIDE, ns)
    assert ns["artifact"].version == "v0"  # re-logged, deduplicated
    assert cairn.Api().artifact("my_artifact:latest").version == "v0"

    ns = run_block(ALL_INSIDE.replace("        artifact\n", "        draft_artifact\n"), fresh_ns())
    v1 = cairn.Api().artifact("my_artifact:latest")
    assert v1.version == "v1"
    assert set(files_of("my_artifact:latest")) == {
        "file_to_remove.txt",
        "modified_file.txt",
        "deleted_file.txt",
        "keep.txt",
        "file_to_add.txt",
    }
    assert [a.name for a in v1.logged_by().used_artifacts()] == ["my_artifact:v0"]
    assert v1.logged_by().job_type == "modify dataset"

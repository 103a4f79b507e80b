"""A child process for tests/engine/test_concurrency.py: ``python concurrency_worker.py MODE JSON``.

It reads the store location from the environment the parent gives it (CAIRN_DIR,
CAIRN_CACHE_DIR), waits on a file barrier when asked, does one job and prints one JSON
line describing what happened (errors included, with their class and message).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def barrier(args: dict) -> None:
    """Say we are ready, then wait until the parent creates the 'go' file."""
    if "ready" in args:
        Path(args["ready"]).touch()
    if "go" in args:
        deadline = time.monotonic() + 60
        while not os.path.exists(args["go"]):
            if time.monotonic() > deadline:
                raise SystemExit("barrier: no 'go' after 60 s")
            time.sleep(0.002)


def write_files(folder: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def report(**kw) -> None:
    print(json.dumps(kw), flush=True)


def error_fields(e: BaseException) -> dict:
    return {
        "error": type(e).__name__,
        "message": str(e),
        "path": getattr(e, "path", None),
        "runs": list(getattr(e, "runs", ())),
    }


def upsert(args: dict) -> None:
    """Upsert the given files (relative path -> text) to distributed_id, as one run."""
    import cairn

    folder = Path(args["src"])
    write_files(folder, args["files"])
    a = cairn.Artifact(args["name"], args.get("type", "dataset"))
    for rel in args["files"]:
        a.add_file(str(folder / rel), name=rel)
    run = cairn.init(project=args["project"], job_type="upsert")
    barrier(args)
    try:
        run.upsert_artifact(a, distributed_id=args["distributed_id"])
        report(run=run.id, ok=True)
    except cairn.CairnError as e:
        report(run=run.id, ok=False, **error_fields(e))
    finally:
        run.finish()


def log(args: dict) -> None:
    """Log the given files as one version of the artifact."""
    import cairn

    folder = Path(args["src"])
    write_files(folder, args["files"])
    a = cairn.Artifact(args["name"], args.get("type", "dataset"))
    a.add_dir(str(folder))
    run = cairn.init(project=args["project"], job_type="log")
    barrier(args)
    run.log_artifact(a)
    report(run=run.id, version=a.version, digest=a.digest)
    run.finish()


def upsert_loop(args: dict) -> None:
    """Upsert one new file at a time until the distributed version is finished (LockedError).

    Reports every path that was acknowledged and the one that was refused."""
    import cairn

    folder = Path(args["src"])
    folder.mkdir(parents=True, exist_ok=True)
    run = cairn.init(project=args["project"], job_type="upsert-loop")
    barrier(args)
    landed: list[str] = []
    refused: list[str] = []
    message = None
    for i in range(args.get("max", 100_000)):
        rel = f"{args['tag']}/{i:05d}.txt"
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"{args['tag']} {i}")
        a = cairn.Artifact(args["name"], "dataset")
        a.add_file(str(p), name=rel)
        try:
            run.upsert_artifact(a, distributed_id=args["distributed_id"])
        except cairn.LockedError as e:
            refused.append(rel)
            message = str(e)
            break
        landed.append(rel)
    run.finish()
    report(run=run.id, landed=landed, refused=refused, message=message)


def finish(args: dict) -> None:
    """Wait until at least ``after`` entries were upserted, then finish the distributed version."""
    import cairn
    from cairn.client import get_client
    from cairn.engine import drafts

    client = get_client()
    run = cairn.init(project=args["project"], job_type="finish")
    barrier(args)
    deadline = time.monotonic() + 60
    while True:
        state = drafts.draft_state(client.meta, client.entity, args["project"], args["name"], args["distributed_id"])
        if state is not None and state["entries"] >= args.get("after", 0):
            break
        if time.monotonic() > deadline:
            raise SystemExit("finish: upserters made no progress")
        time.sleep(0.005)
    a = cairn.Artifact(args["name"], "dataset")
    done = run.finish_artifact(a, distributed_id=args["distributed_id"])
    run.finish()
    report(run=run.id, version=done.version, file_count=done.file_count)


def log_big(args: dict) -> None:
    """Log a large artifact, saying when the files are added and the commit starts (to be killed)."""
    import cairn

    a = cairn.Artifact(args["name"], "dataset")
    run = cairn.init(project=args["project"], job_type="big")
    report(stage="adding")
    a.add_dir(args["src"])
    report(stage="committing")
    run.log_artifact(a)
    report(stage="done", version=a.version)
    run.finish()


MODES = {"upsert": upsert, "log": log, "upsert_loop": upsert_loop, "finish": finish, "log_big": log_big}

if __name__ == "__main__":
    MODES[sys.argv[1]](json.loads(sys.argv[2]))

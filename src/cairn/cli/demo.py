"""The demo project: one artifact made each of the three ways (single run, distributed
runs, incremental draft), with lineage between them, and a ``showcase`` holding one file
of every kind the web UI previews."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import click

from . import output

PROJECT = "demo"


def _write(root: Path, rel: str, data: bytes) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def make_demo() -> Iterator[str]:
    """Build the demo in the current store; yields lines describing what was made."""
    # Imported here, not at the top: ``cairn --help`` loads this module.
    import random
    import secrets
    import tempfile

    import cairn

    from .demo_files import write_showcase

    rnd = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="cairn-demo-") as tmp:
        src = Path(tmp)
        for split in ("train", "val"):
            for i in range(20):
                _write(src / "raw", f"{split}/img_{i:03d}.bin", rnd.randbytes(2048))
        _write(src / "raw", "labels.csv", b"".join(f"img_{i:03d},{i % 3}\n".encode() for i in range(20)))

        # 1. single run
        with cairn.init(project=PROJECT, job_type="ingest") as run:
            ds = cairn.Artifact("images", "dataset", description="raw images", metadata={"source": "demo"})
            ds.add_dir(src / "raw")
            run.log_artifact(ds, aliases=["baseline"])
        yield f"single run:   {ds.qualified_name} ({ds.file_count} files) aliases={ds.aliases}"

        # 2. distributed runs: three shards of predictions, then one run finishes. A group
        # of its own each time: a finished distributed version can no longer change, and
        # the demo may be made again on the same store.
        group = f"eval-{secrets.token_hex(3)}"
        for shard in range(3):
            with cairn.init(project=PROJECT, job_type="eval", group=group) as run:
                run.use_artifact("images:latest")
                preds = cairn.Artifact("predictions", "predictions")
                p = _write(src, f"preds/shard_{shard}.csv", f"shard {shard}\n".encode() * 10)
                preds.add_file(str(p), name=f"shard_{shard}.csv")
                run.upsert_artifact(preds)
        with cairn.init(project=PROJECT, job_type="eval", group=group) as run:
            preds = cairn.Artifact("predictions", "predictions")
            table = cairn.Table(columns=["shard", "accuracy"], data=[[0, 0.91], [1, 0.89], [2, 0.93]])
            preds.add(table, "summary")
            run.finish_artifact(preds)
        yield f"distributed:  {preds.qualified_name} ({preds.file_count} files from 4 runs)"

        # 3. incremental: fix labels, drop the val split, add a new batch
        _write(src, "labels.csv", b"img_000,1\n")
        _write(src, "batch2/img_100.bin", rnd.randbytes(2048))
        with cairn.init(project=PROJECT, job_type="modify dataset") as run:
            saved = run.use_artifact("images:latest")
            draft = saved.new_draft()
            draft.remove("labels.csv")
            draft.add_file(str(src / "labels.csv"))
            draft.remove("val/")
            draft.add_dir(str(src / "batch2"), name="train")
            run.log_artifact(draft)
        yield f"incremental:  {draft.qualified_name} ({draft.file_count} files) from {saved.name}"

        # 4. one file of every kind the web UI previews
        with cairn.init(project=PROJECT, job_type="showcase") as run:
            show = cairn.Artifact(
                "showcase",
                "dataset",
                description="one file of every kind the web UI previews",
                metadata={"kinds": ["markdown", "code", "tables", "json", "images", "audio", "video"]},
            )
            show.add_dir(str(write_showcase(src / "showcase")))
            run.log_artifact(show)
        yield f"previews:     {show.qualified_name} ({show.file_count} files of every previewable kind)"
        yield f"store:        {os.environ.get('CAIRN_DIR') or '(platform data dir)'}"


@click.command()
@click.option("--dir", "store_dir", default=None, help="Store folder (default: CAIRN_DIR).")
def demo(store_dir: str | None) -> None:
    """Make a small demo project showing the three ways to make a version, and print it.

    Run it again on the same store: content already there makes no new version.

    \b
    Example:
      CAIRN_DIR=/tmp/cairn-demo cairn demo && cairn artifact ls demo
    """
    if store_dir:
        os.environ["CAIRN_DIR"] = store_dir
    for text in make_demo():
        output.line(text)

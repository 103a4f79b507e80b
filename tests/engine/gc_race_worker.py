"""A child process of the gc race tests (test_gc_race.py): ``writer SEED`` logs, re-logs,
edits, upserts, finishes and deletes versions for ever; ``gc`` runs garbage collection in a
loop. The store comes from the environment (CAIRN_DIR, or CAIRN_BASE_URL for a server; gc
then gets --meta/--blobs as GC_META/GC_BLOBS). Both are killed with SIGKILL by the test.

A writer appends one line per operation to its log (``ok``/``refused``/``error``), so the test
can tell refused commits (lost races with gc: allowed) from anything else."""

from __future__ import annotations

import os
import random
import sys
import time
import traceback
from pathlib import Path


def _pool(n: int, size: int, tag: str) -> list[bytes]:
    """Contents every writer shares (same seed): so writers dedup against each other's blobs."""
    rng = random.Random(f"pool-{tag}")
    return [rng.randbytes(size + i) for i in range(n)]


SMALL = _pool(12, 1500, "small")  # packed blobs
LARGE = _pool(4, 70_000, "large")  # blob files


def writer(seed: int, log: Path) -> None:
    import cairn
    from cairn.core.errors import CairnError

    rng = random.Random(seed)
    work = Path(f"w-{seed}-{os.getpid()}")
    work.mkdir()
    n = 0
    while True:
        n += 1
        # deletes are frequent, so that blobs often become unreferenced and get marked while
        # other writers log the same content again (the hazard gc must survive)
        op = rng.choice(["new", "new", "again", "again", "again", "edit", "distributed", "delete", "delete", "drop"])
        name = f"a{rng.randrange(4)}"
        try:
            if op in ("new", "again"):
                r = random.Random(rng.randrange(4) if op == "again" else rng.random())
                a = cairn.Artifact(name, "dataset")
                for i, data in enumerate(r.sample(SMALL, 4) + r.sample(LARGE, 1)):
                    p = work / f"{n}-{i}.bin"
                    p.write_bytes(data)
                    a.add_file(str(p), name=f"f{i}.bin")
                if op == "new" and rng.random() < 0.5:
                    a.add_file(_unique(work, n, rng), name="unique.bin")
                a.save()
            elif op == "edit":
                base = cairn.Api().artifact(f"{name}:latest")
                d = base.new_draft()
                if "f0.bin" in d.manifest.entries:
                    d.remove("f0.bin")
                p = work / f"{n}-e.bin"
                p.write_bytes(rng.choice(SMALL + LARGE))
                d.add_file(str(p), name=f"edit{rng.randrange(3)}.bin")
                d.save()
            elif op == "distributed":
                did = f"d-{seed}-{os.getpid()}-{n}"
                with cairn.init(project="uncategorized", group=did) as run:
                    for part in range(2):
                        a = cairn.Artifact(f"dist{rng.randrange(2)}", "dataset")
                        p = work / f"{n}-d{part}.bin"
                        p.write_bytes(rng.choice(SMALL + LARGE))
                        a.add_file(str(p), name=f"part{part}.bin")
                        if part == 0:
                            run.upsert_artifact(a, distributed_id=did)
                        else:
                            run.finish_artifact(a, distributed_id=did)
            elif op == "delete":
                versions = cairn.Api().artifacts("dataset", name)
                if versions:
                    rng.choice(versions).delete(delete_aliases=True)
            else:
                cairn.Api().artifact_collection("dataset", name).delete(delete_aliases=True)
            _note(log, f"ok {op}")
        except CairnError as e:
            _note(log, f"refused {op} {type(e).__name__}: {e}")
        except Exception:  # anything else is a bug the test reports
            _note(log, f"error {op} {traceback.format_exc()!r}")


def _unique(work: Path, n: int, rng: random.Random) -> str:
    p = work / f"{n}-u.bin"
    p.write_bytes(rng.randbytes(rng.choice([900, 80_000])))
    return str(p)


def _note(log: Path, line: str) -> None:
    with open(log, "a") as f:
        f.write(line.replace("\n", " ") + "\n")


def collector(log: Path) -> None:
    from cairn.engine import gc
    from cairn.storage.registry import open_blobs, open_meta

    meta_url = os.environ.get("GC_META") or f"sqlite:///{os.environ['CAIRN_DIR']}/meta.sqlite"
    blobs_url = os.environ.get("GC_BLOBS") or f"{os.environ['CAIRN_DIR']}/blobs"
    meta, blobs = open_meta(meta_url), open_blobs(blobs_url)
    while True:
        report = gc.collect(meta, blobs)
        _note(log, f"gc removed {report.removed_blobs.count} blobs {report.removed_chunks.count} chunks")
        time.sleep(0.2)


if __name__ == "__main__":
    role, log = sys.argv[1], Path(sys.argv[2])
    if role == "writer":
        writer(int(sys.argv[3]), log)
    else:
        collector(log)

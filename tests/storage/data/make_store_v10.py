"""How store-v10/ was made (kept for the record; the test reads the committed files).

Run with the source tree of the last commit at schema version 10 (d213ad0):

    git archive d213ad0 src | tar -x -C /tmp/v10
    CAIRN_DIR=/tmp/v10/store CAIRN_CACHE_DIR=/tmp/v10/cache PYTHONPATH=/tmp/v10/src python make_store_v10.py

then copy /tmp/v10/store/ here. Two projects of two entities, ``e/old`` and ``f/other``, each
have a run of the same id ``samerun`` (schema 10 made run ids unique per project). The run of
``e/old`` logs ``data`` (alias ``first``), edits it, finishes a distributed artifact and
leaves another one open; the
run of ``f/other`` links ``e/old/data`` into ``e/model-registry/reg`` (alias ``prod``): the
registry's alias log names a run of a project other than its own.
"""

import os

import cairn as wandb
from cairn.client import get_client
from cairn.core.names import parse_ref

os.makedirs("work", exist_ok=True)
os.chdir("work")
with open("a.txt", "w") as f:
    f.write("alpha\n")
with wandb.init(project="old", entity="e", id="samerun") as run:
    a = wandb.Artifact("data", "dataset", description="made by schema 10", metadata={"k": 1})
    a.add_file("a.txt")
    logged = run.log_artifact(a, aliases=["first"])
    logged.wait()
    eng = get_client().engine
    vid = eng.resolve(parse_ref("data:first"), "e", "old").id
    eng.update_version(vid, add_aliases=["edited"], description="edited", run_id="samerun")
    part = wandb.Artifact("shards", "dataset")
    part.add_file("a.txt", name="shard0.txt")
    run.upsert_artifact(part, distributed_id="d1")
    done = wandb.Artifact("shards", "dataset")
    run.finish_artifact(done, distributed_id="d1")
    open_part = wandb.Artifact("shards", "dataset")
    open_part.add_file("a.txt", name="shard1.txt")
    run.upsert_artifact(open_part, distributed_id="d2")  # left open: its entries name the run
with wandb.init(project="other", entity="f", id="samerun") as run:
    get_client().engine.link_version(vid, "e", "model-registry", "reg", ["prod"], run_id="f/other/samerun")
print(wandb.Api().artifact("e/old/data:first").digest)

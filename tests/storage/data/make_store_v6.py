"""How store-v6/ was made (kept for the record; the test reads the committed files).

Run with the source tree of the last commit at schema version 6 (b0dabe3^):

    git archive b0dabe3^ src | tar -x -C /tmp/v6
    CAIRN_DIR=/tmp/v6/store CAIRN_CACHE_DIR=/tmp/v6/cache PYTHONPATH=/tmp/v6/src python make_store_v6.py

then copy /tmp/v6/store/ here. It holds one version of three files (two packed blobs, one
blob file of its own), a run with history, summary and config, and a registry link.
"""

import os

import cairn as wandb

os.makedirs("work", exist_ok=True)
os.chdir("work")
with open("a.txt", "w") as f:
    f.write("alpha\n")
os.makedirs("d", exist_ok=True)
with open("d/b.txt", "w") as f:
    f.write("bravo\n")
with open("big.bin", "wb") as f:
    f.write(bytes(range(256)) * 400)  # 100 KiB: above the pack limit, a file of its own
with wandb.init(project="old", entity="e", id="oldrun01", config={"lr": 0.1}) as run:
    a = wandb.Artifact("data", "dataset", description="made by schema 6", metadata={"k": 1})
    a.add_file("a.txt")
    a.add_dir("d", name="d")
    a.add_file("big.bin")
    run.log_artifact(a, aliases=["first"])
    run.log({"loss": 1.0})
    run.log({"loss": 0.5})
    run.summary["best"] = 0.5
    m = wandb.Artifact("model", "model")
    m.add_file("a.txt", name="weights.txt")
    logged = run.log_artifact(m)
    run.link_artifact(logged, "model-registry/reg", aliases=["prod"])
print(wandb.Api().artifact("e/old/data:first").digest)

"""How store-v8/ was made (kept for the record; the test reads the committed files).

Run with the source tree of the last commit at schema version 8 (8a8aa21):

    git archive 8a8aa21 src | tar -x -C /tmp/v8
    CAIRN_DIR=/tmp/v8/store CAIRN_CACHE_DIR=/tmp/v8/cache PYTHONPATH=/tmp/v8/src python make_store_v8.py

then copy /tmp/v8/store/ here. It holds one version of three files (two packed blobs, one
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
    a = wandb.Artifact("data", "dataset", description="made by schema 8", metadata={"k": 1})
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

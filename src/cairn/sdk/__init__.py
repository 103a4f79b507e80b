"""The wandb-compatible SDK: Run, Artifact, Api, Table, on top of ``cairn.client``."""

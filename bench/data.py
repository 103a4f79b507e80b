"""Deterministic benchmark datasets.

Every dataset is a folder ``<root>/<scale>/<name>/`` of seeded random files; a
marker file ``<root>/<scale>/<name>.complete`` (kept *outside* the folder, so
that tools adding the folder never see it) records the spec it was built with.
Generation is skipped when the marker matches, and redone from scratch when it
doesn't.

    python bench/data.py [--work DIR] [--quick] big small [wide] [large]
    python bench/data.py edit FILE K       # in-place 1 MiB edit number K

Stdlib only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
FORMAT = 1  # bump when the generation scheme changes: forces a rebuild
DEFAULT_WORK = Path(os.environ.get("CAIRN_BENCH_WORK", "/tmp/cairn-bench"))


@dataclass(frozen=True)
class Spec:
    name: str
    files: int  # total number of files
    folders: int  # spread evenly over this many folders
    size: int  # bytes per file
    seed: int

    @property
    def total_bytes(self) -> int:
        return self.files * self.size

    def describe(self) -> str:
        return (
            f"{self.name}: {self.files:,} files x {human(self.size)} "
            f"in {self.folders:,} folder(s) = {human(self.total_bytes)}"
        )


FULL = {
    "big": Spec("big", 1_000, 10, MIB, seed=1),
    "small": Spec("small", 50_000, 100, KIB, seed=2),
    "wide": Spec("wide", 1_000_000, 1_000, 16, seed=3),
    "million": Spec("million", 1_000_000, 1_000, KIB, seed=5),
    "large": Spec("large", 1, 1, GIB, seed=4),
}
QUICK = {
    "big": Spec("big", 100, 10, MIB, seed=1),
    "small": Spec("small", 5_000, 100, KIB, seed=2),
    "wide": Spec("wide", 100_000, 1_000, 16, seed=3),
    "million": Spec("million", 100_000, 1_000, KIB, seed=5),
    "large": Spec("large", 1, 1, 64 * MIB, seed=4),
}
DEFAULT_DATASETS = ("big", "small")  # "wide", "million" and "large" only on request


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:g} {unit}" if unit == "B" else f"{n:.4g} {unit}"
        n /= 1024
    raise AssertionError


def specs(quick: bool) -> dict[str, Spec]:
    return QUICK if quick else FULL


def dataset_dir(work: Path, quick: bool, name: str) -> Path:
    return work / "data" / ("quick" if quick else "full") / name


def _marker(folder: Path) -> Path:
    return folder.with_name(folder.name + ".complete")


def _write_files(spec: Spec, folder: Path) -> None:
    """Write the files; folder d holds a contiguous run of file numbers."""
    per_folder, extra = divmod(spec.files, spec.folders)
    width = len(str(spec.files - 1))
    index = 0
    for d in range(spec.folders):
        # One RNG per folder keeps any folder reproducible on its own.
        rng = random.Random(f"cairn-bench/{spec.name}/{spec.seed}/{d}")
        sub = folder / f"d{d:04d}" if spec.folders > 1 else folder
        sub.mkdir(parents=True, exist_ok=True)
        for _ in range(per_folder + (1 if d < extra else 0)):
            with open(sub / f"f{index:0{width}d}.bin", "wb") as f:
                left = spec.size
                while left:  # randbytes(n) overflows past 256 MiB: chunk it
                    n = min(left, 4 * MIB)
                    f.write(rng.randbytes(n))
                    left -= n
            index += 1


def ensure(spec: Spec, folder: Path, log=print) -> Path:
    """Build the dataset unless its marker says it is already complete."""
    marker = _marker(folder)
    want = {"format": FORMAT, **asdict(spec)}
    if marker.exists() and folder.is_dir():
        try:
            if json.loads(marker.read_text()) == want:
                return folder
        except ValueError:
            pass
    log(f"generating {spec.describe()} in {folder} ...")
    marker.unlink(missing_ok=True)
    if folder.exists():
        shutil.rmtree(folder)
    _write_files(spec, folder)
    os.sync()  # don't let our dirty pages leak into the first timed run
    marker.write_text(json.dumps(want) + "\n")
    return folder


def large_file(folder: Path) -> Path:
    """The single file of the "large" dataset."""
    return next(p for p in sorted(folder.iterdir()) if p.is_file())


def edit_offset(size: int, k: int) -> int:
    """Seeded offset of edit number k within a file of the given size."""
    return random.Random(f"cairn-bench/edit/{k}/offset").randrange(0, size - MIB + 1)


def edit_large(path: Path, k: int) -> int:
    """Overwrite 1 MiB of `path` in place at a seeded offset ("version k").

    Applying edit k to a copy of the pristine file gives version k; edits can
    also be stacked (1, 2, 3 ...) on the same copy. Returns the offset.
    """
    size = path.stat().st_size
    if size < MIB:
        raise ValueError(f"{path} is smaller than 1 MiB")
    offset = edit_offset(size, k)
    data = random.Random(f"cairn-bench/edit/{k}/data").randbytes(MIB)
    fd = os.open(path, os.O_WRONLY)  # no O_TRUNC: a true in-place edit
    try:
        os.pwrite(fd, data, offset)
    finally:
        os.close(fd)
    return offset


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["edit"]:
        p = argparse.ArgumentParser(prog="data.py edit")
        p.add_argument("file", type=Path)
        p.add_argument("k", type=int)
        a = p.parse_args(argv[1:])
        print(f"edit {a.k} at offset {edit_large(a.file, a.k)}")
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("datasets", nargs="*", default=list(DEFAULT_DATASETS), choices=sorted(FULL))
    p.add_argument("--work", type=Path, default=DEFAULT_WORK)
    p.add_argument("--quick", action="store_true", help="counts / 10, large = 64 MiB")
    a = p.parse_args(argv)
    for name in a.datasets:
        folder = ensure(specs(a.quick)[name], dataset_dir(a.work, a.quick, name))
        print(f"ok {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

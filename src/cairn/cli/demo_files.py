"""The files of the demo's ``showcase`` artifact: one of every kind the web UI previews
(Markdown with a folder README, code, CSV, TSV, JSON Lines, Parquet, a wandb.Table, JSON,
PNG/JPEG/GIF/WebP/SVG images, WAV audio, WebM video, and binary data)."""

from __future__ import annotations

import io
import json
import math
import random
import struct
import wave
import zlib
from importlib import resources
from pathlib import Path

README = """# Showcase

One file of every kind the web UI previews. Open any file to see it; this README is shown
under the folder's listing.

| folder | what |
|---|---|
| `images/` | PNG, JPEG, GIF, WebP and SVG, shown as a grid of thumbnails |
| `tables/` | CSV, TSV, JSON Lines, Parquet and a `wandb.Table` |
| `media/` | audio and video, played by the browser |
"""

TRAIN = '''"""A tiny training loop."""

import cairn as wandb


def train(lr: float = 0.01, epochs: int = 3) -> float:
    run = wandb.init(project="demo", job_type="train", config={"lr": lr})
    loss = 1.0
    for epoch in range(epochs):
        loss *= 0.5
        wandb.log({"epoch": epoch, "loss": loss})
    run.finish()
    return loss
'''


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A PNG written with zlib alone (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _pillow_images() -> dict[str, bytes]:
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        return {}
    out = {}
    for name, fmt, color in (
        ("images/sunset.jpg", "JPEG", (235, 120, 60)),
        ("images/leaf.gif", "GIF", (60, 160, 80)),
        ("images/sea.webp", "WEBP", (40, 110, 200)),
    ):
        im = Image.new("RGB", (160, 120), color)
        ImageDraw.Draw(im).ellipse((40, 20, 120, 100), fill=(250, 240, 200))
        buf = io.BytesIO()
        im.save(buf, format=fmt)
        out[name] = buf.getvalue()
    return out


def _parquet(rows: list[dict]) -> bytes | None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


def _wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                for i in range(int(seconds * rate))
            )
        )
    return buf.getvalue()


def showcase_files() -> dict[str, bytes]:
    """Path -> bytes of every showcase file (Parquet, JPEG, GIF and WebP only where pyarrow
    and Pillow are installed, as they are with the server)."""
    rnd = random.Random(11)
    metrics = [
        {
            "step": i,
            "loss": round(1 / (i + 1), 4),
            "acc": round(min(0.5 + i / 250, 0.99), 3),
            "split": rnd.choice(["train", "val"]),
        }
        for i in range(120)
    ]
    files: dict[str, bytes] = {
        "README.md": README.encode(),
        "docs/notes.md": b"# Notes\n\n- trained for **3 epochs**\n- see [cairn](https://example.com/cairn)\n",
        "code/train.py": TRAIN.encode(),
        "config.json": json.dumps(
            {
                "model": {"layers": [64, 32, 10], "activation": "relu"},
                "lr": 0.01,
                "augment": {"flip": True, "crop": None},
            },
            indent=1,
        ).encode(),
        "tables/metrics.csv": (
            "step,loss,acc,split\n" + "".join(f"{m['step']},{m['loss']},{m['acc']},{m['split']}\n" for m in metrics)
        ).encode(),
        "tables/labels.tsv": b"image\tlabel\tconfidence\n"
        + b"".join(f"img_{i:03d}.png\t{rnd.choice(['cat', 'dog'])}\t{rnd.random():.3f}\n".encode() for i in range(40)),
        "tables/events.jsonl": b"".join(
            json.dumps(
                {"t": i, "event": rnd.choice(["start", "eval", "save"]), "ok": i % 7 != 0, "tags": ["a"] * (i % 3)}
            ).encode()
            + b"\n"
            for i in range(60)
        ),
        "tables/predictions.table.json": json.dumps(
            {
                "_type": "table",
                "columns": ["id", "label", "score", "correct"],
                "data": [
                    [i, rnd.choice(["cat", "dog"]), round(rnd.random(), 3), rnd.random() > 0.3] for i in range(75)
                ],
                "ncols": 4,
                "nrows": 75,
            }
        ).encode(),
        "images/red.png": _png(160, 120, (210, 60, 60)),
        "images/teal.png": _png(120, 160, (30, 150, 140)),
        "images/logo.svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120">'
        b'<circle cx="60" cy="60" r="50" fill="#34b3a0"/></svg>',
        "media/tone.wav": _wav(),
        "media/clip.webm": resources.files("cairn.cli").joinpath("demo_media/clip.webm").read_bytes(),
        "model/weights.bin": bytes(rnd.randrange(256) for _ in range(4096)),
    }
    files.update(_pillow_images())
    if (table := _parquet(metrics)) is not None:
        files["tables/metrics.parquet"] = table
    return files


def write_showcase(root: Path) -> Path:
    for rel, data in showcase_files().items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root

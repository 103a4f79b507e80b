"""W&B's media and chart types, so scripts that build them keep running.

cairn keeps numbers and strings in a run's history, not media: these objects are accepted
anywhere W&B takes them and hold what they were given, and ``run.log`` leaves them out of
the row with one warning naming the type and the key (``sdk/values.py``). Log the files
themselves as an artifact to keep them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Media:
    """A value W&B would render; cairn keeps its arguments and does not store it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args = args
        self._kwargs = kwargs

    def __repr__(self) -> str:
        return f"<wandb.{type(self).__name__} (not stored by cairn)>"


class Image(Media):
    """W&B's ``wandb.Image``: an image, accepted and not stored."""


class Audio(Media):
    """W&B's ``wandb.Audio``: an audio clip, accepted and not stored."""


class Video(Media):
    """W&B's ``wandb.Video``: a video, accepted and not stored."""


class Histogram(Media):
    """W&B's ``wandb.Histogram``: a histogram, accepted and not stored."""


class Html(Media):
    """W&B's ``wandb.Html``: an HTML snippet, accepted and not stored."""


class Object3D(Media):
    """W&B's ``wandb.Object3D``: a 3D object, accepted and not stored."""


class Molecule(Media):
    """W&B's ``wandb.Molecule``: a molecule, accepted and not stored."""


class Plotly(Media):
    """W&B's ``wandb.Plotly``: a Plotly figure, accepted and not stored."""


class Graph(Media):
    """W&B's ``wandb.Graph``: a graph, accepted and not stored."""


class CustomChart(Media):
    """What ``wandb.plot.*`` returns."""


class _Plot:
    """``wandb.plot``: each chart function returns a CustomChart."""

    def __getattr__(self, name: str) -> Callable[..., CustomChart]:
        if name.startswith("_"):
            raise AttributeError(name)

        def chart(*args: Any, **kwargs: Any) -> CustomChart:
            return CustomChart(name, *args, **kwargs)

        chart.__name__ = name
        return chart


plot = _Plot()

__all__ = [
    "Audio",
    "CustomChart",
    "Graph",
    "Histogram",
    "Html",
    "Image",
    "Media",
    "Molecule",
    "Object3D",
    "Plotly",
    "Video",
    "plot",
]

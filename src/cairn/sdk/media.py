"""W&B's media and chart types, so scripts that build them keep running.

cairn keeps numbers and strings in a run's history, not media: these objects are accepted
anywhere W&B takes them and hold what they were given, and ``run.log`` leaves them out of
the row with one warning naming the type and the key (``sdk/values.py``). Log the files
themselves as an artifact to keep them.
"""

from __future__ import annotations

from typing import Any


class Media:
    """A value W&B would render; cairn keeps its arguments and does not store it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args = args
        self._kwargs = kwargs

    def __repr__(self) -> str:
        return f"<wandb.{type(self).__name__} (not stored by cairn)>"


class Image(Media):
    pass


class Audio(Media):
    pass


class Video(Media):
    pass


class Histogram(Media):
    pass


class Html(Media):
    pass


class Object3D(Media):
    pass


class Molecule(Media):
    pass


class Plotly(Media):
    pass


class Graph(Media):
    pass


class CustomChart(Media):
    """What ``wandb.plot.*`` returns."""


class _Plot:
    """``wandb.plot``: each chart function returns a CustomChart."""

    def __getattr__(self, name: str):  # noqa: ANN204
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

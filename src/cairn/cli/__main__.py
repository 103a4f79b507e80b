"""``python -m cairn.cli``: the same as the ``cairn`` command."""

from .main import run

run()

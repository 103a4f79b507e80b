"""The distribution: built with ``python -m build`` it is ``cairn-artifacts`` (the PyPI name
``cairn`` belongs to another project), imports as ``cairn``, installs the ``cairn`` command,
carries its metadata, py.typed, the UI's templates and static files, and no test code."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_builds_with_its_metadata_and_files(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    [wheel] = tmp_path.glob("*.whl")
    assert wheel.name.startswith("cairn_artifacts-")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = Parser().parsestr(z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
        entry_points = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert meta["Name"] == "cairn-artifacts"
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["License-Expression"] == "Apache-2.0" or meta["License"] == "Apache-2.0"
    assert "Typing :: Typed" in meta.get_all("Classifier")
    requires = meta.get_all("Requires-Dist")
    assert any(r.startswith("click") for r in requires) and any(r.startswith("rich") for r in requires)
    assert any(r.startswith("fastapi") and "extra == 'server'" in r for r in requires)
    assert any(r.startswith("swagger-ui-bundle-v2") and "extra == 'server'" in r for r in requires)
    assert "cairn = cairn.cli.main:run" in entry_points
    assert "pip install cairn-artifacts" in meta.get_payload()  # the README is the long description
    assert "cairn/py.typed" in names and "cairn/__init__.py" in names
    assert "cairn/server/templates/base.html" in names and "cairn/server/static/style.css" in names
    assert not [n for n in names if n.startswith("tests/") or "/tests/" in n]

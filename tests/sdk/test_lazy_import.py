"""``import cairn`` loads only the error classes: the public names come on first use (the
module ``__getattr__`` of ``cairn/__init__.py``) and the ``cairn`` command imports a command's
module only when that command runs, so start-up stays as cheap as bench/startup.py measured.
Each check runs in a fresh interpreter, since this test process has imported everything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import cairn

# Modules that ``import cairn`` must not load (each was loaded at import before).
SDK_MODULES = (
    "cairn.sdk.api",
    "cairn.sdk.artifact",
    "cairn.sdk.media",
    "cairn.sdk.record",
    "cairn.sdk.registry",
    "cairn.sdk.run",
    "cairn.sdk.table",
    "cairn.client",
    "cairn.engine",
    "cairn.storage",
    "cairn.errors",
    "logging",
    "sqlite3",
)


def _loaded_after(code: str) -> set[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_import_cairn_loads_none_of_the_sdk() -> None:
    loaded = _loaded_after("import cairn")
    assert "cairn" in loaded
    assert sorted(loaded & set(SDK_MODULES)) == []


def test_a_name_loads_its_module_only() -> None:
    loaded = _loaded_after("from cairn import Table")
    assert "cairn.sdk.table" in loaded
    assert "cairn.sdk.media" not in loaded and "cairn.sdk.registry" not in loaded


def test_every_public_name_resolves_and_is_listed() -> None:
    for name in cairn.__all__:
        if name != "run":  # None until init()
            assert getattr(cairn, name) is not None, name
    assert set(cairn.__all__) <= set(dir(cairn))
    assert cairn.Error is cairn.CairnError
    assert cairn.errors.CommError is cairn.CommError
    assert cairn.init.__module__ == "cairn.sdk.run"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        getattr(cairn, "no_such_name")
    assert not hasattr(cairn, "no_such_name")


def test_from_cairn_import_star_gives_every_public_name() -> None:
    loaded = _loaded_after("from cairn import *\nassert init and Table and Image and log_model and errors")
    assert "cairn.sdk.media" in loaded


def test_the_in_process_client_leaves_the_rare_engine_operations_unloaded() -> None:
    loaded = _loaded_after("import cairn.client.local")
    for module in ("gc", "gc_report", "gcscratch", "deletion", "retention", "history", "staged_uploads"):
        assert f"cairn.engine.{module}" not in loaded, module


def test_the_command_line_start_loads_no_shared_libraries_it_may_not_need() -> None:
    # ctypes (libc's syncfs / sync_file_range), secrets (run ids) and unicodedata (non-ASCII
    # labels) are loaded by the code that uses them.
    loaded = _loaded_after("import cairn.cli.main, cairn.client.local")
    for module in ("ctypes", "secrets", "unicodedata"):
        assert module not in loaded, module


def test_a_run_on_a_named_store_loads_neither_tables_nor_platformdirs(tmp_path: Path) -> None:
    code = f"import os\nos.environ['CAIRN_DIR'] = {str(tmp_path)!r}\nimport cairn\ncairn.init(project='p').finish()"
    loaded = _loaded_after(code)
    assert "cairn.sdk.run" in loaded
    assert "cairn.sdk.table" not in loaded and "platformdirs" not in loaded

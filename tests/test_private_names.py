"""No module of src/cairn uses another module's underscored names: what two modules share is
public where it lives (``server/ui_request.py`` holds what the web UI's routers share).

ruff's ``PLC2701`` (import-private-name) would say so for imports from other packages only: it
lets ``from .ui import _cache`` through, so this test reads the imports itself. It finds
``from <cairn module> import _name`` (relative or absolute) and ``module._name`` where
``module`` names a cairn module imported into the file (``from . import transfer``,
``from ..core import manifest as mf``, ``import cairn.x as x``)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _module_of(path: Path) -> list[str]:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _is_module(dotted: list[str]) -> bool:
    base = SRC.joinpath(*dotted)
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def private_uses(source: str, path: Path) -> list[str]:
    """Each use, in the module at ``path`` (under src/) with this ``source``, of a name
    another cairn module keeps private, as ``line: what``."""
    here = _module_of(path)
    package = here if path.name == "__init__.py" else here[:-1]
    tree = ast.parse(source)
    modules: set[str] = set()  # local names bound to cairn modules
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else list(package)
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "cairn":
                target = node.module.split(".")
            else:
                continue
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{node.lineno}: from {'.' * node.level}{node.module or ''} import {alias.name}")
                elif _is_module(target + [alias.name]):
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "cairn":
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            chain, value = [node.attr], node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in modules:
                found.append(f"{node.lineno}: {value.id}.{'.'.join(reversed(chain))}")
    return found


def test_no_module_uses_another_modules_underscored_names():
    found = [
        f"{path.relative_to(SRC)}:{use}"
        for path in sorted((SRC / "cairn").rglob("*.py"))
        for use in private_uses(path.read_text(encoding="utf-8"), path)
    ]
    assert found == [], "make these names public where they live, or move them to a module both share:\n" + "\n".join(
        found
    )


def test_the_check_finds_each_kind_of_use():
    """The finder itself: each form it must catch is caught, and public names, names of a
    module's own, dunders and attributes of non-module objects are let through."""
    source = (
        "from __future__ import annotations\n"
        "from .ui import _cache, page_router\n"  # 2: relative, sibling module
        "from ..core.manifest import _decode\n"  # 3: relative, parent package
        "from cairn.sdk.record import _as_dict\n"  # 4: absolute
        "from . import transfer\n"
        "from ..core import manifest as mf\n"
        "import cairn.engine.gc\n"
        "from ..core.manifest import Entry\n"
        "transfer._check_same(p, s)\n"  # 9: attribute of an imported module
        "mf._chunk_leaves(e, None)\n"  # 10: attribute of a module imported under another name
        "cairn.engine.gc._decode(k, d)\n"  # 11: through a dotted import
        "Entry._field_defaults\n"  # a class's attribute: not a module's private name
        "transfer.WORKERS\n"
        "def _mine(): pass\n"
        "_mine()\n"
        "cairn.__version__\n"
    )
    uses = private_uses(source, SRC / "cairn" / "server" / "ui_find.py")
    assert uses == [
        "2: from .ui import _cache",
        "3: from ..core.manifest import _decode",
        "4: from cairn.sdk.record import _as_dict",
        "9: transfer._check_same",
        "10: mf._chunk_leaves",
        "11: cairn.engine.gc._decode",
    ]

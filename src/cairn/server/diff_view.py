"""What a diff page shows beyond the list of changed paths: a folder added or removed whole
folded into one row with its count, and the content of one changed file compared — a line
diff for text, a row diff for tables (CSV/TSV, JSON Lines, Parquet, ``wandb.Table``) — read
only up to a bound."""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Callable
from dataclasses import dataclass

from .browse import Change, Tree
from .previews import sniff

MAX_BYTES = 256 << 10  # of each side of a compared file
MAX_LINES = 2000  # of a line diff's output
MAX_ROWS = 5000  # of each side of a table diff
TABLES = {".csv": ",", ".tsv": "\t"}


@dataclass
class FolderChange:
    """Every file under ``path`` (a folder, ending in '/') was added, or removed."""

    path: str
    kind: str  # "added" | "removed"
    files: int
    size: int

    @property
    def delta(self) -> int:
        return self.size if self.kind == "added" else -self.size


def fold(found: list[Change], old: Tree, new: Tree) -> list[Change | FolderChange]:
    """``found`` with each added (removed) folder that the other side lacks entirely shown as
    one row: the outermost such folder of each path, when it holds two files or more."""
    absent: dict[tuple[str, str], bool] = {}  # (kind, folder) -> the other side has nothing there

    def outer(c: Change) -> str | None:
        other = old if c.kind == "added" else new
        parts = c.path.split("/")[:-1]
        prefix = ""
        for part in parts:
            prefix += part + "/"
            key = (c.kind, prefix)
            if key not in absent:
                absent[key] = not other.is_folder(prefix)
            if absent[key]:
                return prefix
        return None

    groups: dict[tuple[str, str], list[Change]] = {}
    placed: list[Change | tuple[str, str]] = []
    for c in found:
        folder = outer(c) if c.kind in ("added", "removed") else None
        if folder is None:
            placed.append(c)
            continue
        key = (c.kind, folder)
        if key not in groups:
            groups[key] = []
            placed.append(key)
        groups[key].append(c)
    out: list[Change | FolderChange] = []
    for item in placed:
        if isinstance(item, Change):
            out.append(item)
            continue
        members = groups[item]
        if len(members) == 1:
            out.append(members[0])
        else:
            size = sum(m.entry.size for m in members)
            out.append(FolderChange(item[1], item[0], len(members), size))
    return out


@dataclass
class FileDiff:
    kind: str  # "lines" | "table" | "binary" | "same"
    lines: list[tuple[str, str]]  # (css class, text) of a line diff
    header: list[str]  # a table's columns
    removed: list[list[str]]  # table rows only in the old file
    added: list[list[str]]
    truncated: bool  # a side was longer than read, or the output was cut


def _table(text: str, delimiter: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = []
    for row in reader:
        rows.append(row)
        if len(rows) > MAX_ROWS:
            break
    return rows


def _row_diff(header: list[str], ra: list[list[str]], rb: list[list[str]], header_a: list[str], cut: bool) -> FileDiff:
    """Rows (``ra`` → ``rb``, headers apart) removed and added, as a sequence diff finds them."""
    body_a, body_b = [tuple(r) for r in ra[:MAX_ROWS]], [tuple(r) for r in rb[:MAX_ROWS]]
    removed, added = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, body_a, body_b, autojunk=False).get_opcodes():
        if op in ("replace", "delete"):
            removed += [list(r) for r in body_a[i1:i2]]
        if op in ("replace", "insert"):
            added += [list(r) for r in body_b[j1:j2]]
    if header_a != header:
        removed.insert(0, list(header_a))
        added.insert(0, list(header))
    return FileDiff("table" if removed or added else "same", [], header, removed, added, cut)


def compare(
    path: str,
    old_size: int,
    new_size: int,
    read_old: Callable[[int, int], bytes],
    read_new: Callable[[int, int], bytes],
) -> FileDiff:
    """Compare two versions of ``path`` (``read_*(offset, n)``: ranged reads): CSV/TSV and
    text by their heads, the other tables (JSON Lines, Parquet, ``wandb.Table``) by their
    first ``MAX_ROWS`` rows as the previews read them."""
    ext = "." + path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if ext not in TABLES:
        from . import previews

        ta_rows = previews.table_rows(path, old_size, read_old, MAX_ROWS)
        tb_rows = previews.table_rows(path, new_size, read_new, MAX_ROWS)
        if ta_rows is not None and tb_rows is not None:
            (ha, ra, all_a), (hb, rb, all_b) = ta_rows, tb_rows
            return _row_diff(hb, ra, rb, ha, not (all_a and all_b))
    a, b = read_old(0, min(old_size, MAX_BYTES)), read_new(0, min(new_size, MAX_BYTES))
    cut = old_size > MAX_BYTES or new_size > MAX_BYTES
    ta = sniff.decode_text(a, truncated=old_size > len(a))
    tb = sniff.decode_text(b, truncated=new_size > len(b))
    if ta is None or tb is None:
        return FileDiff("binary", [], [], [], [], cut)
    if cut:  # a cut line at the end of a head is not a change
        ta, tb = ta.rsplit("\n", 1)[0] if old_size > len(a) else ta, tb.rsplit("\n", 1)[0] if new_size > len(b) else tb
    if ext in TABLES:
        ra, rb = _table(ta, TABLES[ext]), _table(tb, TABLES[ext])
        cut = cut or len(ra) > MAX_ROWS or len(rb) > MAX_ROWS
        header = rb[0] if rb else (ra[0] if ra else [])
        return _row_diff(header, ra[1 : MAX_ROWS + 1], rb[1 : MAX_ROWS + 1], ra[0] if ra else [], cut)
    lines: list[tuple[str, str]] = []
    for line in difflib.unified_diff(ta.splitlines(), tb.splitlines(), "before", "after", n=3, lineterm=""):
        if line.startswith(("---", "+++")):
            continue
        css = (
            "hunk"
            if line.startswith("@@")
            else "add"
            if line.startswith("+")
            else "del"
            if line.startswith("-")
            else "ctx"
        )
        lines.append((css, line))
        if len(lines) >= MAX_LINES:
            cut = True
            break
    return FileDiff("lines" if lines else "same", lines, [], [], [], cut)

"""What a garbage collection run looked at, removed and kept, and why (a small value type;
the CLI renders it, ``--json`` prints it as it is)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Tally:
    count: int = 0
    bytes: int = 0

    def add(self, n: int, size: int = 0) -> None:
        self.count += n
        self.bytes += size


@dataclass
class GcReport:
    dry_run: bool = False
    grace_seconds: float = 0.0
    # examined
    blobs: Tally = field(default_factory=Tally)
    chunks: Tally = field(default_factory=Tally)
    # removed (or, in a dry run, what would go)
    removed_blobs: Tally = field(default_factory=Tally)
    removed_chunks: Tally = field(default_factory=Tally)
    removed_temp: Tally = field(default_factory=Tally)  # crash leftovers, staged and incomplete uploads
    removed_quarantine: Tally = field(default_factory=Tally)  # damaged blobs set aside past the quarantine ttl
    removed_uploads: Tally = field(default_factory=Tally)  # staged uploads never completed, past the upload ttl
    versions_expired: list[str] = field(default_factory=list)  # deleted: their ttl passed
    versions_retention: list[str] = field(default_factory=list)  # deleted by a retention policy
    drafts_expired: list[str] = field(default_factory=list)
    pack_bytes_freed: int = 0
    # kept, and why
    referenced_blobs: Tally = field(default_factory=Tally)
    referenced_chunks: Tally = field(default_factory=Tally)
    marked_now: Tally = field(default_factory=Tally)  # unreferenced: go after the grace period
    waiting: Tally = field(default_factory=Tally)  # marked before, grace period not over yet
    in_flight: Tally = field(default_factory=Tally)  # an upload claims them (server)
    kept_aliased: list[str] = field(default_factory=list)  # expired or out of retention, but aliased

    def as_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        """The report as lines of text, for people."""
        from ..core.sizes import human_size as human

        def t(x: Tally) -> str:
            return f"{x.count:,} ({human(x.bytes)})"

        verb = "would remove" if self.dry_run else "removed"
        out = [
            f"examined: {t(self.blobs)} blobs, {t(self.chunks)} manifest chunks",
            f"{verb}: {t(self.removed_blobs)} blobs, {t(self.removed_chunks)} manifest chunks, "
            f"{t(self.removed_temp)} temporary files and uploads, {t(self.removed_quarantine)} set-aside damaged blobs",
        ]
        if self.versions_expired:
            out.append(f"{verb} {len(self.versions_expired)} expired versions (ttl): {_few(self.versions_expired)}")
        if self.versions_retention:
            out.append(f"{verb} {len(self.versions_retention)} versions by retention: {_few(self.versions_retention)}")
        if self.removed_uploads.count:
            out.append(f"{verb} {t(self.removed_uploads)} staged uploads never completed (past the upload ttl)")
        if self.drafts_expired:
            out.append(f"{verb} {len(self.drafts_expired)} abandoned drafts: {_few(self.drafts_expired)}")
        out.append(f"kept: {t(self.referenced_blobs)} referenced blobs, {t(self.referenced_chunks)} referenced chunks")
        grace = f"{self.grace_seconds:g} s"
        if self.dry_run:
            out.append(f"unreferenced blobs go once they have been marked for the grace period ({grace})")
        else:
            out.append(f"kept: {t(self.marked_now)} unreferenced, marked now: they go after the grace period ({grace})")
            out.append(f"kept: {t(self.waiting)} marked earlier, within the grace period")
        if self.in_flight.count:
            out.append(f"kept: {t(self.in_flight)} claimed by uploads in flight")
        if self.kept_aliased:
            out.append(
                f"kept {len(self.kept_aliased)} aliased versions past their ttl or retention: {_few(self.kept_aliased)}"
            )
        return out


def _few(names: list[str], n: int = 5) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")

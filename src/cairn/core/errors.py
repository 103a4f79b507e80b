"""The one error hierarchy of cairn.

Every error carries the identifiers it is about (artifact, version, path, run) as
attributes and says what to do next. Only ``server/`` maps these to HTTP status codes.

    CairnError
    ├── UsageError (ValueError)          bad input from the caller: names, aliases, paths, metadata
    │   └── InvalidPathError             a logical path that is absolute, has '..', or is empty
    ├── NotFoundError (LookupError)
    │   ├── ArtifactNotFoundError        no such artifact, version or alias
    │   ├── RunNotFoundError
    │   └── BlobNotFoundError            a digest the blob store does not hold
    ├── ConflictError                    two writers disagree (same path, different content; name
    │                                    already has another type; alias moved under us)
    ├── LockedError                      the thing is committed / finished and can no longer change
    ├── IntegrityError                   stored or downloaded bytes do not match their digest
    ├── FileChangedError                 a local file changed between add_* and log
    └── StoreError                       the store cannot be reached or is in a bad state
        └── AuthError                    (server) missing or invalid credentials
            └── ForbiddenError           (server) a valid key without the role needed
"""

from __future__ import annotations


class CairnError(Exception):
    """Base of every error cairn raises on purpose."""


class UsageError(CairnError, ValueError):
    """The caller passed something cairn cannot accept; the message says what to pass instead."""


class InvalidPathError(UsageError):
    """A logical path inside an artifact is not allowed."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(
            f"invalid artifact path {path!r}: {reason}; use a relative path with '/' separators, "
            "without '..' or empty parts"
        )


class NotFoundError(CairnError, LookupError):
    """Something named by the caller does not exist."""


class ArtifactNotFoundError(NotFoundError):
    def __init__(self, name: str, detail: str = "") -> None:
        self.name = name
        msg = f"artifact {name!r} not found"
        super().__init__(msg + (f": {detail}" if detail else ""))


class RunNotFoundError(NotFoundError):
    def __init__(self, run: str) -> None:
        self.run = run
        super().__init__(f"run {run!r} not found")


class BlobNotFoundError(NotFoundError):
    def __init__(self, digest: str, where: str = "") -> None:
        self.digest = digest
        super().__init__(
            f"blob {digest} is missing from the blob store{(' ' + where) if where else ''}; "
            "the store may have been garbage-collected or damaged"
        )


class ConflictError(CairnError):
    """Two writers disagree; nothing was changed by the refused write."""

    def __init__(self, message: str, *, path: str | None = None, runs: tuple[str, ...] = ()) -> None:
        self.path = path
        self.runs = runs
        super().__init__(message)


class LockedError(CairnError):
    """The target is committed or finished and cannot change any more."""


class IntegrityError(CairnError):
    """Bytes do not match the digest they are stored or listed under."""

    def __init__(self, message: str, *, path: str | None = None, digest: str | None = None) -> None:
        self.path = path
        self.digest = digest
        super().__init__(message)


class FileChangedError(CairnError):
    """A local file changed after it was added to an artifact and before it was logged."""

    def __init__(self, local_path: str, name: str) -> None:
        self.local_path = local_path
        self.name = name
        super().__init__(
            f"file {local_path!r} (artifact entry {name!r}) changed after it was added; "
            "add it again after it stops changing, then log the artifact"
        )


class StoreError(CairnError):
    """The store cannot be used: unreachable, misconfigured, or from a newer cairn."""


class AuthError(StoreError):
    """Missing or insufficient credentials for a server."""


class ForbiddenError(AuthError):
    """The key is valid but lacks the role; says nothing about the project's contents."""

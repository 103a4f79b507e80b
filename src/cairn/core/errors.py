"""The one error hierarchy of cairn.

Every error carries the identifiers it is about (artifact, version, path, run) as
attributes and says what to do next. Only ``server/`` maps these to HTTP status codes.

Each class also subclasses what W&B (or Python) raises in the same situation, so the
``except`` clauses of W&B scripts keep working (``cairn.errors`` holds W&B's names):

    CairnError (= errors.Error)
    ├── UsageError (ValueError)          bad input from the caller: names, aliases, paths, metadata
    │   ├── InvalidPathError             a logical path that is absolute, has '..', or is empty
    │   ├── ArtifactNotLoggedError (AttributeError)   a logged-only member of an unlogged artifact
    │   └── ModelUsageError (AssertionError)          a model helper used as W&B refuses it
    │       └── NotAModelError                        use_model/link_model of a non-model type
    ├── CommError                        W&B's "the server said no / cannot be reached"
    │   ├── NotFoundError (LookupError)
    │   │   ├── ArtifactNotFoundError    no such artifact, version or alias
    │   │   ├── RunNotFoundError
    │   │   └── BlobNotFoundError        a digest the blob store does not hold
    │   └── StoreError                   the store cannot be reached or is in a bad state
    │       ├── UnavailableError         a store or server is away for now: the same call may work later
    │       │   └── BusyError            (server) this caller has too much running already (429)
    │       └── AuthError (= errors.AuthenticationError)   (server) missing or invalid credentials
    │           └── ForbiddenError       (server) a valid key without the role needed
    ├── ConflictError (ValueError)       two writers disagree (same path, different content; name
    │                                    already has another type; alias moved under us)
    ├── LockedError                      the thing is committed / finished and can no longer change
    │   └── ArtifactFinalizedError (AttributeError)   a mutator of a logged artifact
    ├── IntegrityError (ValueError)      stored or downloaded bytes do not match their digest
    └── FileChangedError                 a local file changed between add_* and log

Each class owns its wire form: ``to_wire()`` gives the identifiers it carries as JSON
values, ``from_wire(message, fields)`` rebuilds it through its constructor, so an error
that crossed the HTTP API has every attribute it has on the embedded store.
"""

from __future__ import annotations

from typing import Any


def _str(fields: dict, key: str) -> str | None:
    """A string identifier from a wire body (anything else is dropped, not trusted)."""
    v = fields.get(key)
    return v if isinstance(v, str) else None


class CairnError(Exception):
    """Base of every error cairn raises on purpose."""

    @property
    def message(self) -> str:
        """The message (W&B's errors carry it as ``.message``)."""
        return str(self.args[0]) if self.args else ""

    def to_wire(self) -> dict[str, Any]:
        """The identifiers this error carries, as JSON values; the message travels beside them."""
        return {}

    @classmethod
    def from_wire(cls, message: str, fields: dict[str, Any]) -> "CairnError":
        """The error a server sent, rebuilt through its constructor."""
        return cls(message)

    def _with_message(self, message: str) -> "CairnError":
        # the server's words win: a constructor that builds its message may word it otherwise
        self.args = (message,)
        return self


class UsageError(CairnError, ValueError):
    """The caller passed something cairn cannot accept; the message says what to pass instead."""


class InvalidPathError(UsageError):
    """A logical path inside an artifact is not allowed."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"invalid artifact path {path!r}: {reason}; use a relative path with '/' separators, "
            "without '..' or empty parts"
        )

    def to_wire(self) -> dict[str, Any]:
        return {"path": self.path, "reason": self.reason}

    @classmethod
    def from_wire(cls, message: str, fields: dict[str, Any]) -> CairnError:
        return cls(_str(fields, "path") or "", _str(fields, "reason") or "")._with_message(message)


class ArtifactNotLoggedError(UsageError, AttributeError):
    """A member that only a logged artifact has, used on one not logged yet (W&B raises an
    AttributeError of this name)."""

    def __init__(self, member: str, artifact: str) -> None:
        self.member = member
        self.artifact = artifact
        super().__init__(
            f"{member!r} of artifact {artifact!r} is only available once it is logged; "
            "call run.log_artifact(artifact) or artifact.save() first"
        )

    def to_wire(self) -> dict[str, Any]:
        return {"member": self.member, "artifact": self.artifact}

    @classmethod
    def from_wire(cls, message: str, fields: dict[str, Any]) -> CairnError:
        return cls(_str(fields, "member") or "", _str(fields, "artifact") or "")._with_message(message)


class ModelUsageError(UsageError, AssertionError):
    """A model helper (``use_model``, ``link_model``) used as W&B refuses it, with an
    AssertionError: a registered model name given as a path."""


class NotAModelError(ModelUsageError):
    """``use_model`` / ``link_model`` of an artifact whose type does not contain "model"."""

    def __init__(self, name: str, type_: str) -> None:
        self.name = name
        self.type = type_
        super().__init__(
            f"artifact {name!r} has type {type_!r}; use_model and link_model take only artifacts whose "
            "type contains 'model' (log it with run.log_model, or use run.use_artifact)"
        )

    def to_wire(self) -> dict[str, Any]:
        return {"name": self.name, "artifact_type": self.type}

    @classmethod
    def from_wire(cls, message: str, fields: dict[str, Any]) -> CairnError:
        return cls(_str(fields, "name") or "", _str(fields, "artifact_type") or "")._with_message(message)


class CommError(CairnError):
    """W&B's error for an answer the server would not give: not found, refused, unreachable."""

    @property
    def exc(self) -> BaseException | None:
        """The underlying exception, as W&B's ``CommError.exc``."""
        return self.__cause__


class NotFoundError(CommError, LookupError):
    """Something named by the caller does not exist."""


class ArtifactNotFoundError(NotFoundError):
    """No artifact version by that name, alias or id (``name`` and ``detail`` say which and why)."""

    def __init__(self, name: str, detail: str = "") -> None:
        self.name = name
        self.detail = detail
        msg = f"artifact {name!r} not found"
        super().__init__(msg + (f": {detail}" if detail else ""))

    def to_wire(self) -> dict[str, Any]:
        return {"name": self.name, "detail": self.detail}

    @classmethod
    def from_wire(cls, message: str, fields: dict[str, Any]) -> CairnError:
        return cls(_str(fields, "name") or "", _str(fields, "detail") or "")._with_message(message)


class RunNotFoundError(NotFoundError):
    """No run with that id (``run``) where it was looked for."""

    def __init__(self, run: str) -> None:
        self.run = run
        super().__init__(f"run {run!r} not found")

    def to_wire(self) -> dict[str, Any]:
        return {"run": self.run}

    @classmethod
    def from_wire(cls, message: str, fields: dict[str, Any]) -> CairnError:
        return cls(_str(fields, "run") or "")._with_message(message)


class BlobNotFoundError(NotFoundError):
    """The store holds no bytes for ``digest`` (``where`` says which store)."""

    def __init__(self, digest: str, where: str = "") -> None:
        self.digest = digest
        self.where = where
        super().__init__(
            f"blob {digest} is missing from the blob store{(' ' + where) if where else ''}; "
            "the store may have been garbage-collected or damaged"
        )

    def to_wire(self) -> dict[str, Any]:
        return {"digest": self.digest, "where": self.where}

    @classmethod
    def from_wire(cls, message: str, fields: dict[str, Any]) -> CairnError:
        return cls(_str(fields, "digest") or "", _str(fields, "where") or "")._with_message(message)


class ConflictError(CairnError, ValueError):
    """Two writers disagree; nothing was changed by the refused write."""

    def __init__(self, message: str, *, path: str | None = None, runs: tuple[str, ...] = ()) -> None:
        self.path = path
        self.runs = tuple(runs)
        super().__init__(message)

    def to_wire(self) -> dict[str, Any]:
        return {"path": self.path, "runs": list(self.runs)}

    @classmethod
    def from_wire(cls, message: str, fields: dict[str, Any]) -> CairnError:
        runs = fields.get("runs")
        runs = tuple(r for r in runs if isinstance(r, str)) if isinstance(runs, list) else ()
        return cls(message, path=_str(fields, "path"), runs=runs)


class LockedError(CairnError):
    """The target is committed or finished and cannot change any more."""


class ArtifactFinalizedError(LockedError, AttributeError):
    """A mutator (add_file, remove, ...) used on an artifact that is logged, or upserted to a
    distributed version (W&B raises an AttributeError of this name)."""

    def __init__(self, member: str, artifact: str, detail: str) -> None:
        self.member = member
        self.artifact = artifact
        self.detail = detail
        super().__init__(f"cannot {member} artifact {artifact!r}: {detail}")

    def to_wire(self) -> dict[str, Any]:
        return {"member": self.member, "artifact": self.artifact, "detail": self.detail}

    @classmethod
    def from_wire(cls, message: str, fields: dict[str, Any]) -> CairnError:
        f = {k: _str(fields, k) or "" for k in ("member", "artifact", "detail")}
        return cls(f["member"], f["artifact"], f["detail"])._with_message(message)


class IntegrityError(CairnError, ValueError):
    """Bytes do not match the digest they are stored or listed under."""

    def __init__(self, message: str, *, path: str | None = None, digest: str | None = None) -> None:
        self.path = path
        self.digest = digest
        super().__init__(message)

    def to_wire(self) -> dict[str, Any]:
        return {"path": self.path, "digest": self.digest}

    @classmethod
    def from_wire(cls, message: str, fields: dict[str, Any]) -> CairnError:
        return cls(message, path=_str(fields, "path"), digest=_str(fields, "digest"))


class FileChangedError(CairnError):
    """A local file changed after it was added to an artifact and before it was logged."""

    def __init__(self, local_path: str, name: str) -> None:
        self.local_path = local_path
        self.name = name
        super().__init__(
            f"file {local_path!r} (artifact entry {name!r}) changed after it was added; "
            "add it again after it stops changing, then log the artifact"
        )

    def to_wire(self) -> dict[str, Any]:
        return {"local_path": self.local_path, "name": self.name}

    @classmethod
    def from_wire(cls, message: str, fields: dict[str, Any]) -> CairnError:
        return cls(_str(fields, "local_path") or "", _str(fields, "name") or "")._with_message(message)


class StoreError(CommError):
    """The store cannot be used: unreachable, misconfigured, or from a newer cairn."""


class UnavailableError(StoreError):
    """A store (or the server) cannot answer right now, but nothing is wrong with the request:
    the same call may succeed later. ``retry_after``: seconds the caller should wait first."""

    retry_after: float = 1.0

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        self.retry_after = retry_after
        super().__init__(message)

    def to_wire(self) -> dict[str, Any]:
        return {"retry_after": self.retry_after}

    @classmethod
    def from_wire(cls, message: str, fields: dict[str, Any]) -> CairnError:
        after = fields.get("retry_after")
        return cls(message, retry_after=float(after) if isinstance(after, (int, float)) else 1.0)


class BusyError(UnavailableError):
    """The server refuses more heavy work from this caller until some of it finishes."""


class AuthError(StoreError):
    """Missing or insufficient credentials for a server (W&B's ``AuthenticationError``)."""


class ForbiddenError(AuthError):
    """The key is valid but lacks the role; says nothing about the project's contents."""


def by_name() -> dict[str, type[CairnError]]:
    """Every error class of this module by its name (what the wire names it by)."""
    out: dict[str, type[CairnError]] = {}
    todo: list[type[CairnError]] = [CairnError]
    while todo:
        cls = todo.pop()
        if cls.__module__ == __name__:
            out[cls.__name__] = cls
        todo.extend(cls.__subclasses__())
    return out

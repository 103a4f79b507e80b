"""Every public member of the SDK surface that ``import cairn as wandb`` exposes has a
docstring: the classes and functions of ``cairn.__all__`` and the public methods and
properties of ``Artifact``, ``Run`` and ``Api`` (and the objects they hand out: a logged
run's public view, collections, manifest entries, files). A member added without one fails
here, naming it."""

from __future__ import annotations

import inspect

import cairn
from cairn.sdk.api import ArtifactCollection
from cairn.sdk.files import ArtifactFile, ArtifactFiles
from cairn.sdk.entry import ArtifactManifest, ArtifactManifestEntry
from cairn.sdk.public_run import PublicRun

CLASSES = (
    cairn.Artifact,
    cairn.Run,
    cairn.Api,
    PublicRun,
    ArtifactCollection,
    ArtifactManifest,
    ArtifactManifestEntry,
    ArtifactFile,
    ArtifactFiles,
)


def _own_doc(cls: type, name: str) -> str | None:
    """The docstring of ``cls.name`` as written in cairn (a property's, a method's), looked
    up along the MRO so that a member documented on a base class counts."""
    for klass in cls.__mro__:
        if name in vars(klass):
            member = vars(klass)[name]
            doc = member.__doc__ if not isinstance(member, (staticmethod, classmethod)) else member.__func__.__doc__
            if doc and doc.strip() and doc is not getattr(type(member), "__doc__", None):
                return doc
    return None


def _public_members(cls: type) -> list[str]:
    names = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("cairn"):
            continue
        for name, member in vars(klass).items():
            if name.startswith("_"):
                continue
            if callable(member) or isinstance(member, (property, staticmethod, classmethod)):
                names.add(name)
    return sorted(names)


def test_every_public_method_and_property_has_a_docstring() -> None:
    missing = [
        f"{cls.__name__}.{name}" for cls in CLASSES for name in _public_members(cls) if _own_doc(cls, name) is None
    ]
    assert missing == [], f"public SDK members without a docstring: {missing}"


def test_every_class_and_function_of_the_package_has_a_docstring() -> None:
    missing = []
    for name in cairn.__all__:
        obj = getattr(cairn, name)
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and not (obj.__doc__ or "").strip():
            missing.append(name)
    assert missing == [], f"cairn.{missing} have no docstring"


def test_the_check_sees_a_missing_docstring() -> None:
    """The check itself: a class with an undocumented public method is caught."""

    class Probe:
        """A probe."""

        def documented(self) -> None:
            """Yes."""

        def bare(self) -> None:
            pass

    Probe.__module__ = "cairn.probe"
    assert [n for n in _public_members(Probe) if _own_doc(Probe, n) is None] == ["bare"]

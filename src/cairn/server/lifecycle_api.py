"""Deleting collections and projects, and retention policies (``/api/v1``).

Deleting a collection or setting its policy needs the ``write`` role on its entity; deleting
a project or setting the project's policy needs ``admin``. Garbage collection is not an HTTP
route: an operator runs ``cairn admin gc`` against the stores themselves."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import Field

from ..engine.retention import Retention
from . import authz
from .api import Ctx, Who
from .models import ERROR_RESPONSES, Body, EntityPath, NamePath, ProjectPath

router = APIRouter(
    prefix="/api/v1", responses=ERROR_RESPONSES, dependencies=[Depends(authz.gate)]
)  # read / write by method


class RetentionIn(Body):
    keep_last: int | None = Field(default=None, ge=0, le=2**31 - 1)
    max_age_seconds: int | None = Field(default=None, gt=0, le=2**62)


def _policy_in(body: RetentionIn) -> Retention | None:
    """The policy a PUT asks for; an empty body (neither field) removes it."""
    if body.keep_last is None and body.max_age_seconds is None:
        return None
    return Retention(body.keep_last, body.max_age_seconds)


def _policy_out(policy: Retention | None) -> dict:
    return {"retention": None if policy is None else policy.as_dict()}


@router.delete("/projects/{entity}/{project}/artifacts/{name}")
def collection_delete(
    entity: EntityPath, project: ProjectPath, name: NamePath, c: Ctx, who: Who, delete_aliases: bool = False
) -> dict:
    return {"deleted_versions": c.engine.delete_collection(entity, project, name, delete_aliases)}


@router.delete("/projects/{entity}/{project}")
def project_delete(entity: EntityPath, project: ProjectPath, c: Ctx, who: Who, delete_aliases: bool = False) -> dict:
    authz.project(c, who, entity, project, "admin")
    return {"deleted_versions": c.engine.delete_project(entity, project, delete_aliases)}


@router.get("/projects/{entity}/{project}/retention")
def project_retention(entity: EntityPath, project: ProjectPath, c: Ctx, who: Who) -> dict:
    return _policy_out(c.engine.get_retention(entity, project, None))


@router.put("/projects/{entity}/{project}/retention")
def project_retention_set(entity: EntityPath, project: ProjectPath, body: RetentionIn, c: Ctx, who: Who) -> dict:
    authz.project(c, who, entity, project, "admin")
    policy = _policy_in(body)
    c.engine.set_retention(entity, project, None, policy)
    return _policy_out(policy)


@router.get("/projects/{entity}/{project}/artifacts/{name}/retention")
def collection_retention(entity: EntityPath, project: ProjectPath, name: NamePath, c: Ctx, who: Who) -> dict:
    return _policy_out(c.engine.get_retention(entity, project, name))


@router.put("/projects/{entity}/{project}/artifacts/{name}/retention")
def collection_retention_set(
    entity: EntityPath, project: ProjectPath, name: NamePath, body: RetentionIn, c: Ctx, who: Who
) -> dict:
    policy = _policy_in(body)
    c.engine.set_retention(entity, project, name, policy)
    return _policy_out(policy)

"""Shapes shared by many routes: cursor pages and audit entries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="next_cursor of the previous page.")
]


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: list[T]
    next_cursor: str | None = Field(default=None, description="None on the last page.")


def page_after(items: list[T], key: str, cursor: str | None, limit: int) -> Page[T]:
    """Keyset page of ``items`` (already sorted by attribute ``key``) after ``cursor``."""
    rest = [i for i in items if cursor is None or str(_key(i, key)) > cursor]
    chosen = rest[:limit]
    more = len(rest) > limit
    return Page[T](items=chosen, next_cursor=str(_key(chosen[-1], key)) if more else None)


def _key(item: Any, key: str) -> Any:
    value = item
    for part in key.split("."):
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    return value


class AuditEntryPublic(BaseModel):
    """Who did what, when, to which entity; the entity's state before and after."""

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None = Field(
        default=None, description="X-Request-ID of the API call that made the entry, if any."
    )

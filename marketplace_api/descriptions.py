"""What a task's sponsor says about it: a title, a description and the data it wants.

FedTask records a task's money, schedule, parties and spec CID; people also need to know what
the task is for. Its sponsor (checked on-chain, at each write) publishes that here and edits it;
nobody else can. It is service state, not an index of the chain, so the table has a metadata of
its own, created where missing when the API starts (like the sign-in and content tables). Times
are unix seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import JSON, BigInteger, Integer, MetaData, String, Text, UniqueConstraint, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from marketplace_api.errors import ConflictError, NotFoundError
from marketplace_api.models import NAMING_CONVENTION

ADDRESS_LEN = 42
TITLE_LEN = 200


class DescriptionBase(DeclarativeBase):
    """Declarative base of the task-description table (a metadata of its own)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TaskDescription(DescriptionBase):
    """A sponsor's description of one of its tasks."""

    __tablename__ = "task_descriptions"
    __table_args__ = (UniqueConstraint("deployment_id", "task_id"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(Integer)
    task_id: Mapped[int] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(String(TITLE_LEN))
    description: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON)
    sponsor: Mapped[str] = mapped_column(String(ADDRESS_LEN))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True)
class DescriptionEdit:
    """The fields a sponsor sets (``None``: leave as it is)."""

    title: str | None = None
    description: str | None = None
    tags: list[str] | None = None


def create_tables(engine: Engine) -> None:
    """Create the task-description table where it is missing (idempotent)."""
    DescriptionBase.metadata.create_all(engine, checkfirst=True)


def get_description(session: Session, deployment_id: int, task_id: int) -> TaskDescription | None:
    """The description of ``task_id`` (``None`` when its sponsor has published none)."""
    return session.scalars(
        select(TaskDescription).where(
            TaskDescription.deployment_id == deployment_id, TaskDescription.task_id == task_id
        )
    ).first()


def publish(
    session: Session, deployment_id: int, task_id: int, sponsor: str, edit: DescriptionEdit
) -> TaskDescription:
    """Record the first description of ``task_id`` (the caller checked the sponsor).

    Raises
    ------
    ConflictError
        The task has one already (edit it with :func:`amend`).
    """
    if get_description(session, deployment_id, task_id) is not None:
        raise ConflictError(f"task {task_id} is described already: PATCH /tasks/{task_id}")
    now = int(time.time())
    row = TaskDescription(
        deployment_id=deployment_id,
        task_id=task_id,
        title=edit.title or "",
        description=edit.description or "",
        tags=list(edit.tags or []),
        sponsor=sponsor,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def amend(
    session: Session, deployment_id: int, task_id: int, edit: DescriptionEdit
) -> TaskDescription:
    """Change the fields ``edit`` sets (the caller checked the sponsor).

    Raises
    ------
    NotFoundError
        The task has no description yet (publish one with ``POST /tasks``).
    """
    row = get_description(session, deployment_id, task_id)
    if row is None:
        raise NotFoundError(f"task {task_id} has no description yet: POST /tasks first")
    if edit.title is not None:
        row.title = edit.title
    if edit.description is not None:
        row.description = edit.description
    if edit.tags is not None:
        row.tags = list(edit.tags)
    row.updated_at = int(time.time())
    session.flush()
    return row


__all__ = [
    "DescriptionBase",
    "DescriptionEdit",
    "TaskDescription",
    "amend",
    "create_tables",
    "get_description",
    "publish",
]

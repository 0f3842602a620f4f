"""The knowledge base's tables (知识库): articles, and the tickets they answered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _when() -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=False)


ACTIVE, DRAFT = "active", "draft"  # a draft (from a ticket) waits for the PM's confirmation


class KbArticle(SQLModel, table=True):
    """One article: from a Markdown file (`source` "file:<path>" or "file:<path>#<n>" for a
    file's n-th `##` section) or written in chat ("chat:<person key>", "ticket:T-12")."""

    __tablename__ = "kb_article"
    __table_args__ = (
        UniqueConstraint("engagement_id", "number"),
        Index("ix_kb_article_source", "engagement_id", "source"),
    )

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id")
    number: int  # KB-n
    title: str = Field(sa_column=Column(Text, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    services: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    source: str
    status: str = ACTIVE
    digest: str = ""  # of a file article's text: unchanged files are not rewritten
    created_by: str = ""
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    created_at: datetime = _when()
    updated_at: datetime = _when()

    @property
    def ref(self) -> str:
        return f"KB-{self.number}"


class KbDeflection(SQLModel, table=True):
    """A ticket its reporter closed as answered by the knowledge base (a deflection)."""

    __tablename__ = "kb_deflection"
    __table_args__ = (Index("ix_kb_deflection_at", "engagement_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    engagement_id: int = Field(foreign_key="engagement.id")
    ticket_id: int = Field(foreign_key="ticket.id")
    at: datetime = _when()
    actor: str

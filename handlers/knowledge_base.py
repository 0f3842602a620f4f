"""The knowledge base's articles and search (知识库初筛): articles read from the engagement
file's folders (`[knowledge] paths`) on the knowledge base's first use in a process after the
file was applied (the engagement's `updated_at` changes with every apply), so applying stays
fast and a folder can be fixed without re-applying; the index lives in memory per engagement,
rebuilt when the articles' version (count, last id, last change) moves, at most `CACHED`
engagements kept. What a new ticket's reply suggests and the deflections counted come from
here; the commands are in `handlers.knowledge`.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from domain import knowledge as kb
from handlers import knowledge_text as text
from handlers.sow_knowledge import DEFAULT_MIN_COVERAGE
from storage import counters
from storage.models import Engagement
from storage.models_knowledge import ACTIVE, KbArticle, KbDeflection

CACHED = 16  # engagements whose index stays in memory
PREFIX = "KB"
_LOCK = threading.Lock()
_INDEXES: OrderedDict[tuple[str, int], tuple[tuple[Any, ...], kb.Index]] = OrderedDict()
# (database, engagement) -> (its updated_at when its folders were read, file articles then)
_SYNCED: dict[tuple[str, int], tuple[datetime, int]] = {}
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_TITLE = re.compile(r"^#\s+(.+)$", re.M)
_SECTION = re.compile(r"^##\s+(.+)$", re.M)


# -- articles from files ----------------------------------------------------------------------


@dataclass(frozen=True)
class FileArticle:
    source: str
    title: str
    body: str
    tags: tuple[str, ...] = ()
    services: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        whole = "\n".join((self.title, self.body, *self.tags, "|", *self.services))
        return hashlib.sha256(whole.encode()).hexdigest()[:32]


def _listed(value: str) -> tuple[str, ...]:
    return tuple(v.strip().strip("\"'") for v in value.strip().strip("[]").split(",") if v.strip())


def read_markdown(path: Path, name: str) -> list[FileArticle]:
    """One article per file; one per `##` section when its front matter says `split: sections`.
    Front matter (`---` lines at the top) may give `title`, `tags`, `services`."""
    content = path.read_text(encoding="utf-8")
    meta: dict[str, str] = {}
    front = _FRONT.match(content)
    if front:
        for line in front.group(1).splitlines():
            key, _, value = line.partition(":")
            meta[key.strip().lower()] = value.strip()
        content = content[front.end() :]
    tags, services = _listed(meta.get("tags", "")), _listed(meta.get("services", ""))
    heading = _TITLE.search(content)
    title = meta.get("title", "").strip("\"'") or (
        heading.group(1).strip() if heading else path.stem
    )
    if meta.get("split", "").lower() != "sections":
        body = _TITLE.sub("", content, count=1).strip() if heading else content.strip()
        return [FileArticle(f"file:{name}", title, body, tags, services)]
    parts = _SECTION.split(content)  # [before, heading1, body1, heading2, body2, ...]
    return [
        FileArticle(
            f"file:{name}#{n}",
            f"{title} · {parts[i].strip()}",
            parts[i + 1].strip(),
            tags,
            services,
        )
        for n, i in enumerate(range(1, len(parts), 2), start=1)
    ]


def read_folders(folders: list[str]) -> list[FileArticle]:
    articles: list[FileArticle] = []
    for folder in folders:
        root = Path(folder)
        for path in sorted(root.rglob("*.md")):
            articles += read_markdown(path, path.relative_to(root.parent).as_posix())
    return articles


def sync_files(session: Session, engagement: Engagement, now: datetime) -> None:
    """Bring the file articles in line with the folders, once per apply of the engagement file:
    new files are added, changed ones rewritten (their KB number kept), removed ones deleted."""
    engagement_id = engagement.id or 0
    key = (str(session.get_bind().engine.url), engagement_id)
    files = select(func.count()).where(
        col(KbArticle.engagement_id) == engagement_id, col(KbArticle.source).startswith("file:")
    )
    if _SYNCED.get(key) == (engagement.updated_at, session.execute(files).scalar_one()):
        return
    folders = list((engagement.rules.get("knowledge") or {}).get("paths", []))
    wanted = {a.source: a for a in read_folders(folders)}
    stored = {
        row.source: row
        for row in session.execute(
            select(KbArticle).where(
                col(KbArticle.engagement_id) == engagement_id,
                col(KbArticle.source).startswith("file:"),
            )
        ).scalars()
    }
    for source, row in stored.items():
        if source not in wanted:
            session.delete(row)
    for source, article in wanted.items():
        row = stored.get(source)
        if row is not None and row.digest == article.digest:
            continue
        if row is None:
            number = counters.next_number(session, engagement_id, PREFIX)
            row = KbArticle(engagement_id=engagement_id, number=number, title="", body="",
                            source=source, created_by="file", created_at=now)  # fmt: skip
        row.title, row.body, row.digest = article.title, article.body, article.digest
        row.tags, row.services, row.updated_at = list(article.tags), list(article.services), now
        session.add(row)
    session.flush()
    _SYNCED[key] = (engagement.updated_at, len(wanted))


# -- the index --------------------------------------------------------------------------------


def _version(session: Session, engagement_id: int) -> tuple[Any, ...]:
    row = session.execute(
        select(func.count(), func.max(KbArticle.id), func.max(KbArticle.updated_at)).where(
            col(KbArticle.engagement_id) == engagement_id, col(KbArticle.status) == ACTIVE
        )
    ).one()
    return tuple(row)


def index_of(session: Session, engagement_id: int) -> kb.Index:
    """The engagement's index, rebuilt only when its articles changed."""
    version = _version(session, engagement_id)
    key = (str(session.get_bind().engine.url), engagement_id)
    with _LOCK:
        cached = _INDEXES.get(key)
        if cached is not None and cached[0] == version:
            _INDEXES.move_to_end(key)
            return cached[1]
    rows = session.execute(
        select(col(KbArticle.id), col(KbArticle.title), col(KbArticle.body)).where(
            col(KbArticle.engagement_id) == engagement_id, col(KbArticle.status) == ACTIVE
        )
    ).all()
    index = kb.Index.build(kb.Doc(key, title, body) for key, title, body in rows)
    with _LOCK:
        _INDEXES[key] = (version, index)
        _INDEXES.move_to_end(key)
        while len(_INDEXES) > CACHED:
            _INDEXES.popitem(last=False)
    return index


@dataclass(frozen=True)
class Found:
    article: KbArticle
    hit: kb.Hit
    excerpt: str


def search(session: Session, engagement: Engagement, question: str, now: datetime,
           limit: int = 3) -> tuple[bool, list[Found]]:  # fmt: skip
    """(whether to offer them, the best `limit` articles) for `question`."""
    sync_files(session, engagement, now)
    settings = engagement.rules.get("knowledge") or {}
    synonyms = kb.synonym_table(settings.get("synonyms") or {})
    query = kb.terms(question)
    hits = index_of(session, engagement.id or 0).search(query, limit, kb.expand(question, synonyms))
    found = []
    for hit in hits:
        article = session.get(KbArticle, hit.key)
        if article is not None:
            found.append(Found(article, hit, kb.excerpt(article.body, query)))
    coverage = int(settings.get("min_coverage", DEFAULT_MIN_COVERAGE)) / 100
    return kb.answerable(hits, coverage), found


# -- hooks for other commands -----------------------------------------------------------------


def suggestions(session: Session, engagement: Engagement, title: str, locale: str,
                now: datetime | None = None) -> list[str]:  # fmt: skip
    """Up to three "可能相关" lines for a new ticket's reply (empty when nothing fits)."""
    moment = now or engagement.updated_at
    offered, found = search(session, engagement, title, moment)
    return [text.suggestion(f.article, locale) for f in found] if offered else []


def deflections(session: Session, engagement_id: int, start: datetime, end: datetime) -> int:
    """Tickets closed as answered by the knowledge base in [start, end)."""
    return int(
        session.execute(
            select(func.count()).where(
                col(KbDeflection.engagement_id) == engagement_id,
                col(KbDeflection.at) >= start,
                col(KbDeflection.at) < end,
            )
        ).scalar_one()
    )


def forget() -> None:
    """Drop the in-memory indexes and the record of folders read (tests, benchmarks)."""
    with _LOCK:
        _INDEXES.clear()
        _SYNCED.clear()

"""The knowledge base through the real bus (console harness), on SQLite and PostgreSQL: /ask
over the engagement's folder, /kb add, /answered and its deflection, adopting a ticket, and
the hooks the ticket reply and the reports use."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from app.commands import all_commands, all_jobs
from app.runtime import Runtime, vocabulary
from bot import clock
from bot.bus import Bus
from bot.registry import Registry
from config.settings import DEMO_ENGAGEMENT, Settings
from handlers import knowledge_base as knowledge
from handlers.declared.knowledge import COMMANDS
from storage.db import transaction
from storage.models import Engagement, Ticket
from storage.models_knowledge import KbArticle
from tests.harness import ConsoleHarness

KB = Path(__file__).parent / "data" / "kb"


@pytest.fixture
def kb(engine: Engine, db_url: str, tmp_path: Path) -> Iterator[ConsoleHarness]:
    """The demo engagement with the evaluation folder as its knowledge base."""
    knowledge.forget()
    settings = Settings(db=db_url)
    present = {command.name for command in all_commands()}
    registry = Registry([*all_commands(), *(c for c in COMMANDS if c.name not in present)])
    bus = Bus(engine, registry, settings.bot.names, vocabulary=vocabulary(settings))
    harness = ConsoleHarness(Runtime(settings, engine, registry, all_jobs(), bus))
    path = tmp_path / "kb.toml"
    path.write_text(DEMO_ENGAGEMENT.read_text(encoding="utf-8") + f"\n[knowledge]\npaths = "
                    f'["{KB}"]\nsynonyms = {{ "卡顿" = ["慢"] }}\n', encoding="utf-8")  # fmt: skip
    harness.apply(path)
    yield harness
    knowledge.forget()


def _engagement(harness: ConsoleHarness) -> Engagement:
    with transaction(harness.runtime.engine) as session:
        found: Engagement | None = session.execute(select(Engagement)).scalars().first()
        assert found is not None
        session.expunge(found)
        return found


def test_ask_answers_from_the_folder(kb: ConsoleHarness) -> None:
    reply = kb.one("liuyang", "/问 Hive查詢很卡頓怎么办")
    assert reply.kind == "kb.answer", reply.text
    assert "Hive 查询很慢" in reply.text and "文件 kb/hive-slow.md" in reply.text
    assert reply.text.count("KB-") == 3
    with transaction(kb.runtime.engine) as session:
        assert len(session.execute(select(KbArticle)).all()) == len(list(KB.glob("*.md")))


def test_nothing_found_says_so(kb: ConsoleHarness) -> None:
    reply = kb.one("liuyang", "/问 食堂今天中午吃什么")
    assert reply.kind == "kb.none" and "/工单" in reply.text


def test_vendor_staff_add_an_article_and_it_is_found_at_once(kb: ConsoleHarness) -> None:
    kb.one("liuyang", "/问 堡垒机 怎么 登录")  # builds the index
    added = kb.one(
        "malin", '/知识 新增 "堡垒机登录" 使用 JumpServer 堡垒机 登录 生产服务器，账号同统一认证。'
    )
    assert added.kind == "kb.added" and "KB-" in added.text
    reply = kb.one("liuyang", "/问 堡垒机怎么登录")
    assert reply.kind == "kb.answer" and "堡垒机登录" in reply.text
    assert "群内添加 malin" in reply.text or "群内添加 ma.lin" in reply.text
    refused = kb.one("liuyang", '/知识 新增 "x" y')
    assert refused.kind != "kb.added"


def test_answered_closes_the_ticket_and_counts_a_deflection(kb: ConsoleHarness) -> None:
    kb.one("liuyang", "/工单 P3 VPN 连接失败")
    engagement = _engagement(kb)
    with transaction(kb.runtime.engine) as session:
        lines = knowledge.suggestions(session, engagement, "VPN 连接失败", "zh-CN", clock.now())
    assert lines and lines[0].startswith("可能相关：") and "VPN" in lines[0]
    assert kb.one("malin", "/已解决 T-1 知识库").kind != "ticket.closed"  # not the reporter's
    reply = kb.one("liuyang", "/已解决 T-1 知识库")
    assert reply.kind == "ticket.closed" and "知识库已解答" in reply.text
    again = kb.one("liuyang", "/已解决 T-1")
    assert again.kind != "ticket.closed"
    now = clock.now()
    with transaction(kb.runtime.engine) as session:
        ticket = session.execute(select(Ticket)).scalars().one()
        assert ticket.status == "closed" and ticket.closed_at is not None
        day = timedelta(days=1)
        assert knowledge.deflections(session, engagement.id or 0, now - day, now + day) == 1
        assert knowledge.deflections(session, engagement.id or 0, now + day, now + 2 * day) == 0


def test_a_resolved_ticket_becomes_an_article_once_the_pm_confirms(kb: ConsoleHarness) -> None:
    kb.one("liuyang", "/工单 P3 堡垒机连不上")
    kb.one("malin", "/解决 T-1 堡垒机证书过期，已更新证书，重新登录即可")
    drafted = kb.one("malin", "/知识 采纳 T-1")
    assert drafted.kind == "kb.drafted", drafted.text
    ref = re.search(r"KB-\d+", drafted.text).group(0)  # type: ignore[union-attr]
    assert "来自工单" not in kb.one("liuyang", "/问 堡垒机证书过期").text  # a draft is not offered
    assert kb.one("malin", f"/知识 确认 {ref}").kind != "kb.confirmed"  # the PM's call
    assert kb.one("sunwei", f"/知识 确认 {ref}").kind == "kb.confirmed"
    reply = kb.one("liuyang", "/问 堡垒机证书过期")
    assert reply.kind == "kb.answer" and "来自工单 T-1" in reply.text


def test_english_replies(kb: ConsoleHarness) -> None:
    with transaction(kb.runtime.engine) as session:
        engagement = session.execute(select(Engagement)).scalars().one()
        engagement.locale = "en"
        session.add(engagement)
    reply = kb.one("liuyang", "/ask kafka consumer lag")
    assert reply.kind == "kb.answer" and reply.text.startswith("📚 From the knowledge base")
    assert "file kb/" in reply.text


def test_a_clients_new_ticket_suggests_articles_and_an_answer_counts_in_the_reports(
    kb: ConsoleHarness,
) -> None:
    from handlers import progress_weekly

    opened = kb.one("liuyang", "/工单 P3 VPN 连接失败，登录不了")
    assert opened.kind == "ticket.suggested"  # its card carries the "answered" button
    assert "可能相关：KB-" in opened.text and "/已解决 T-1 知识库" in opened.text
    by_vendor = kb.one("sunwei", "/工单 P3 VPN 连接失败")  # vendor staff know where to look
    assert by_vendor.kind == "ticket.opened" and "可能相关" not in by_vendor.text
    assert kb.one("liuyang", "/已解决 T-1 知识库").kind == "ticket.closed"
    status = kb.one("liuyang", "/进度")
    assert "本月知识库解答 1 个工单" in status.text
    with transaction(kb.runtime.engine) as session:
        engagement = session.execute(select(Engagement)).scalars().one()
        label = progress_weekly.week_of(clock.local(clock.now(), engagement.timezone).date())[0]
        report = progress_weekly.weekly(session, engagement, label, clock.now())
    assert report.deflected == 1


def test_without_a_knowledge_section_a_ticket_reply_suggests_nothing(demo: ConsoleHarness) -> None:
    demo.one("malin", '/知识 新增 "VPN 连接失败" 重新下载 VPN 配置文件后重试。')
    opened = demo.one("liuyang", "/工单 P3 VPN 连接失败")
    assert opened.kind == "ticket.opened" and "可能相关" not in opened.text

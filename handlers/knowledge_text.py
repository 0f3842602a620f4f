"""What the knowledge base says, in both languages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.i18n import tr

if TYPE_CHECKING:
    from storage.models_knowledge import KbArticle


def source_name(source: str, locale: str) -> str:
    """`file:kb/hive.md` -> 文件 kb/hive.md; `chat:zhang` -> 群内 zhang; `ticket:T-3` -> 工单 T-3."""
    kind, _, where = source.partition(":")
    names = {"file": ("文件", "file"), "chat": ("群内添加", "added in chat by"),
             "ticket": ("来自工单", "from ticket")}  # fmt: skip
    zh, en = names.get(kind, (kind, kind))
    return f"{tr(locale, zh, en)} {where}"


def answers(locale: str, found: list[tuple[KbArticle, str]]) -> str:
    """The best articles, each with its excerpt around the matching words, and its source."""
    lines = [tr(locale, "📚 知识库中可能的答案：", "📚 From the knowledge base:")]
    for n, (article, excerpt) in enumerate(found, start=1):
        lines.append(f"{n}. {article.ref} {article.title}")
        lines.append(f"   {excerpt}")
        lines.append(f"   ({source_name(article.source, locale)})")
    lines.append(
        tr(locale, "没解决？请发送 /工单 描述问题。", "Not answered? Open a ticket with /ticket.")
    )
    return "\n".join(lines)


def nothing_found(locale: str, question: str) -> str:
    return tr(locale, "🔍 知识库中没有找到“{q}”的答案。请发送 /工单 描述问题，工程师会跟进。",
              "🔍 Nothing in the knowledge base answers \"{q}\". Open a ticket with /ticket and an "
              "engineer will follow up.", q=question[:60])  # fmt: skip


def suggestion(article: KbArticle, locale: str) -> str:
    return tr(locale, "可能相关：{r} {t}", "Possibly related: {r} {t}", r=article.ref,
              t=article.title)  # fmt: skip


def add_usage(locale: str) -> str:
    return tr(locale, '用法：/知识 新增 "标题" 内容', 'Usage: /kb add "TITLE" TEXT')


def added(locale: str, article: KbArticle) -> str:
    return tr(locale, "📚 已加入知识库：{r} {t}", "📚 Added to the knowledge base: {r} {t}",
              r=article.ref, t=article.title)  # fmt: skip


def drafted(locale: str, article: KbArticle, ticket: str) -> str:
    return tr(locale, "📝 已根据 {k} 起草 {r}《{t}》，待项目经理 /知识 确认 {r}",
              "📝 Drafted {r} \"{t}\" from {k}; the PM confirms it with /kb confirm {r}",
              r=article.ref, t=article.title, k=ticket)  # fmt: skip


def confirmed(locale: str, article: KbArticle) -> str:
    return tr(locale, "✅ {r}《{t}》已确认，加入知识库。", "✅ {r} \"{t}\" confirmed and published.",
              r=article.ref, t=article.title)  # fmt: skip


def not_resolved(locale: str, ref: str) -> str:
    return tr(locale, "{r} 还没有解决，不能采纳为知识。", "{r} is not resolved yet; nothing to adopt.",
              r=ref)  # fmt: skip


def not_draft(locale: str, ref: str) -> str:
    return tr(locale, "{r} 不是待确认的草稿。", "{r} is not a draft awaiting confirmation.", r=ref)


def answered(locale: str, ref: str) -> str:
    return tr(locale, "🔒 {r} 已关闭：知识库已解答。", "🔒 {r} closed: answered by the knowledge base.",
              r=ref)  # fmt: skip

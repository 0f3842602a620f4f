"""The knowledge base's text rules, its evaluation set against the issue's targets, and the
engagement file's [knowledge] section."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from base.errors import ConfigError
from domain import knowledge as kb
from handlers.knowledge import split_title
from handlers.knowledge_base import read_folders, read_markdown
from handlers.sow import parse_engagement

DATA = Path(__file__).parent / "data"
KB = DATA / "kb"
TOP3_TARGET, FALSE_ANSWER_TARGET = 0.85, 0.15


def evaluate(min_coverage: float = kb.MIN_COVERAGE) -> dict[str, float]:
    """top-1 and top-3 accuracy on answerable questions, false-answer rate on "none" ones."""
    articles = read_folders([str(KB)])
    index = kb.Index.build(kb.Doc(n, a.title, a.body) for n, a in enumerate(articles))
    names = {n: Path(a.source.removeprefix("file:")).stem for n, a in enumerate(articles)}
    glossary = tomllib.loads((DATA / "kb_synonyms.toml").read_text(encoding="utf-8"))
    synonyms = kb.synonym_table(glossary["synonyms"])
    questions = tomllib.loads((DATA / "kb_questions.toml").read_text(encoding="utf-8"))["q"]
    top1 = top3 = answerable = offered_on_none = nones = 0
    for question in questions:
        query = kb.terms(question["text"])
        hits = index.search(query, 3, kb.expand(question["text"], synonyms))
        offered = kb.answerable(hits, min_coverage)
        found = [names[h.key] for h in hits] if offered else []
        if question["article"] == "none":
            nones += 1
            offered_on_none += offered
        else:
            answerable += 1
            top1 += found[:1] == [question["article"]]
            top3 += question["article"] in found
    return {"top1": top1 / answerable, "top3": top3 / answerable,
            "false_answers": offered_on_none / nones, "questions": len(questions),
            "none": nones, "articles": len(articles)}  # fmt: skip


def test_the_evaluation_set_meets_the_targets() -> None:
    result = evaluate()
    assert result["articles"] >= 40 and result["questions"] >= 120 and result["none"] >= 20
    assert result["top3"] >= TOP3_TARGET, result
    assert result["false_answers"] <= FALSE_ANSWER_TARGET, result


def test_every_label_names_an_article() -> None:
    questions = tomllib.loads((DATA / "kb_questions.toml").read_text(encoding="utf-8"))["q"]
    names = {path.stem for path in KB.glob("*.md")} | {"none"}
    assert {q["article"] for q in questions} <= names


def test_forms_people_type_are_normalised() -> None:
    assert kb.normalise("ＨＩＶＥ查詢很卡頓，帳號") == "hive查询很卡顿,账号"
    assert kb.words("賬號被鎖定") == kb.words("账号被锁定")
    assert "spark" in kb.words("Spark-Submit 報錯")


def test_synonyms_work_both_ways() -> None:
    table = kb.synonym_table({"卡顿": ["慢", "超时"]})
    assert table["慢"] == ("卡顿", "超时") and table["卡顿"] == ("慢", "超时")
    extra = kb.expand("查询卡顿", table)
    assert "慢" in extra and "超时" in extra and "卡顿" not in extra


def test_bm25_ranks_and_refuses() -> None:
    index = kb.Index.build([kb.Doc(1, "VPN 连接失败", "EasyConnect 客户端 证书错误"),
                            kb.Doc(2, "Hive 查询慢", "分区过滤 数据倾斜")])  # fmt: skip
    hits = index.search(kb.terms("vpn连接失败"))
    assert hits[0].key == 1 and kb.answerable(hits)
    assert not kb.answerable(index.search(kb.terms("食堂今天吃什么")))
    assert kb.Index.build([]).search(kb.terms("vpn")) == []


def test_excerpt_is_around_the_matching_words() -> None:
    body = "开头的话。" * 30 + "执行 msck repair table 刷新分区。" + "结尾。" * 30
    piece = kb.excerpt(body, kb.terms("msck repair"))
    assert "msck" in piece and piece.startswith("…") and piece.endswith("…")


def test_markdown_articles_and_sections(tmp_path: Path) -> None:
    one = tmp_path / "vpn.md"
    one.write_text("---\ntitle: VPN 指南\ntags: [vpn, 网络]\n---\n正文", encoding="utf-8")
    assert read_markdown(one, "kb/vpn.md")[0].title == "VPN 指南"
    assert read_markdown(one, "kb/vpn.md")[0].tags == ("vpn", "网络")
    many = tmp_path / "faq.md"
    many.write_text(
        "---\nsplit: sections\n---\n# 常见问题\n## 甲\n一\n## 乙\n二\n", encoding="utf-8"
    )
    parts = read_markdown(many, "kb/faq.md")
    assert [(p.source, p.title, p.body) for p in parts] == [
        ("file:kb/faq.md#1", "常见问题 · 甲", "一"), ("file:kb/faq.md#2", "常见问题 · 乙", "二")]  # fmt: skip
    plain = tmp_path / "plain.md"
    plain.write_text("# 标题\n内容", encoding="utf-8")
    assert (read_markdown(plain, "p")[0].title, read_markdown(plain, "p")[0].body) == (
        "标题",
        "内容",
    )


def test_a_title_in_quotes_or_on_the_first_line() -> None:
    assert split_title('"VPN 断线" 重新登录即可') == ("VPN 断线", "重新登录即可")
    assert split_title("“VPN 断线”重新登录") == ("VPN 断线", "重新登录")
    assert split_title("VPN 断线\n重新登录") == ("VPN 断线", "重新登录")


def _file(extra: str) -> dict[str, object]:
    from config.settings import DEMO_ENGAGEMENT

    return tomllib.loads(DEMO_ENGAGEMENT.read_text(encoding="utf-8") + extra)


def test_the_engagement_files_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(KB.parent)
    spec = parse_engagement(
        _file('\n[knowledge]\npaths = ["kb"]\nsynonyms = { "卡顿" = ["慢"] }\n')
    )
    assert spec.sections["knowledge"] == {
        "paths": [str(KB.resolve())], "synonyms": {"卡顿": ["慢"]}, "min_coverage": 45}  # fmt: skip
    assert "knowledge" not in parse_engagement(_file("")).sections
    with pytest.raises(ConfigError) as bad:
        parse_engagement(_file('\n[knowledge]\npaths = ["nowhere", 3]\nsynonyms = { "a" = "b" }\n'
                               "min_coverage = 0\nother = 1\n"))  # fmt: skip
    text = str(bad.value)
    for path in ("knowledge.paths[0]", "knowledge.paths[1]", "knowledge.synonyms.a",
                 "knowledge.min_coverage", "knowledge.other"):  # fmt: skip
        assert path in text, text

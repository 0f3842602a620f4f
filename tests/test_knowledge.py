"""The knowledge base's text rules, its evaluation set against the issue's targets, and the
engagement file's [knowledge] section."""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path

import pytest

from base.errors import ConfigError
from domain import knowledge as kb
from domain.colloquial import COLLOQUIAL, TYPOS
from handlers.knowledge import split_title
from handlers.knowledge_base import read_folders, read_markdown
from handlers.sow import parse_engagement

DATA = Path(__file__).parent / "data"
KB = DATA / "kb"
TOP3_TARGET, FALSE_ANSWER_TARGET = 0.85, 0.15
# The evaluation set: its first questions, and the colloquial ones (连不上, 挂了, typos …).
SUBSETS = {"questions": DATA / "kb_questions.toml", "colloquial": KB / "colloquial.toml"}


def _questions(subset: str) -> list[dict[str, str]]:
    return list(tomllib.loads(SUBSETS[subset].read_text(encoding="utf-8"))["q"])


def evaluate(
    min_coverage: float = kb.MIN_COVERAGE, glossary: bool = True
) -> dict[str, dict[str, float]]:
    """Per subset and for "all": top-1 and top-3 accuracy on answerable questions, the
    false-answer rate on "none" ones. With the evaluation engagement's glossary, or with the
    built-in colloquial table only (`glossary=False`: what any engagement gets)."""
    articles = read_folders([str(KB)])
    index = kb.Index.build(kb.Doc(n, a.title, a.body) for n, a in enumerate(articles))
    names = {n: Path(a.source.removeprefix("file:")).stem for n, a in enumerate(articles)}
    groups = tomllib.loads((DATA / "kb_synonyms.toml").read_text(encoding="utf-8"))["synonyms"]
    synonyms = kb.synonym_table(groups if glossary else {})
    counts: dict[str, Counter[str]] = {name: Counter() for name in (*SUBSETS, "all")}
    for subset in SUBSETS:
        for question in _questions(subset):
            query = kb.terms(question["text"])
            hits = index.search(query, 3, kb.expand(question["text"], synonyms))
            found = [names[h.key] for h in hits] if kb.answerable(hits, min_coverage) else []
            right = question["article"]
            for name in (subset, "all"):
                if right == "none":
                    counts[name].update(none=1, offered=bool(found))
                else:
                    counts[name].update(
                        answerable=1, top1=found[:1] == [right], top3=right in found
                    )
    return {name: {"top1": c["top1"] / c["answerable"], "top3": c["top3"] / c["answerable"],
                   "false_answers": c["offered"] / c["none"], "questions": c["answerable"] + c["none"],
                   "none": c["none"], "articles": len(articles)}
            for name, c in counts.items()}  # fmt: skip


def test_the_evaluation_set_meets_the_targets() -> None:
    result = evaluate()
    assert result["all"]["articles"] >= 40 and result["all"]["questions"] >= 160
    assert result["colloquial"]["questions"] >= 40 and result["colloquial"]["none"] >= 8
    for subset in ("all", "questions", "colloquial"):
        assert result[subset]["top3"] >= TOP3_TARGET, (subset, result)
        assert result[subset]["false_answers"] <= FALSE_ANSWER_TARGET, (subset, result)


def test_colloquial_questions_are_understood_without_a_glossary() -> None:
    result = evaluate(glossary=False)["colloquial"]
    assert result["top3"] >= TOP3_TARGET and result["false_answers"] <= FALSE_ANSWER_TARGET, result


def test_every_label_names_an_article() -> None:
    names = {path.stem for path in KB.glob("*.md")} | {"none"}
    for subset in SUBSETS:
        assert {q["article"] for q in _questions(subset)} <= names


def test_forms_people_type_are_normalised() -> None:
    assert kb.normalise("ＨＩＶＥ查詢很卡頓，帳號") == "hive查询很卡顿,账号"
    assert kb.words("賬號被鎖定") == kb.words("账号被锁定")
    assert "spark" in kb.words("Spark-Submit 報錯")


def test_synonyms_work_both_ways() -> None:
    table = kb.synonym_table({"卡顿": ["慢", "超时"], "取数": ["获取数据"]})
    assert {"卡顿", "超时"} <= set(table["慢"]) and {"慢", "超时"} <= set(table["卡顿"])
    assert table["获取数据"] == ("取数",) and table["取数"] == ("获取数据",)
    [stand] = kb.expand("业务系统想取数", table).stands
    assert stand.synonyms == (("获取", "数据", "获取数据"),)  # cut as an article is (search mode)
    assert stand.covers == {"取数", "取", "数"}


def test_the_built_in_colloquial_table_is_extended_by_the_glossary() -> None:
    built_in = kb.synonym_table({})
    assert "连接失败" in built_in["连不上"] and "连不上" in built_in["连接失败"]
    extended = kb.synonym_table({"连不上": ["断网"]})
    assert {"连接失败", "断网"} <= set(extended["连不上"]) and "连不上" in extended["断网"]


def test_the_colloquial_table_is_written_as_questions_are_normalised() -> None:
    words = [w for head, others in COLLOQUIAL.items() for w in (head, *others)]
    assert all(kb.normalise(w) == w for w in words)
    assert all(len(typo) == len(right) for typo, right in TYPOS.items())  # excerpts map back


def test_common_typos_are_put_right() -> None:
    assert kb.normalise("帐号登陆不了，vpn链接不上") == "账号登录不了,vpn连接不上"
    assert kb.words("帐号被锁") == kb.words("账号被锁")


def test_a_colloquial_question_finds_the_formal_article() -> None:
    index = kb.Index.build([kb.Doc(1, "VPN 连接失败", "EasyConnect 客户端 证书错误"),
                            kb.Doc(2, "Hive 查询慢", "分区过滤 数据倾斜")])  # fmt: skip
    table = kb.synonym_table({})  # no glossary: built in
    assert not kb.answerable(index.search(kb.terms("vpn连不上")))  # without synonyms
    hits = index.search(kb.terms("vpn连不上"), 3, kb.expand("vpn连不上", table))
    assert hits[0].key == 1 and kb.answerable(hits)
    hits = index.search(kb.terms("hive跑得巨慢"), 3, kb.expand("hive跑得巨慢", table))
    assert hits[0].key == 2 and kb.answerable(hits)


def test_many_synonyms_count_as_their_word_once() -> None:
    index = kb.Index.build([kb.Doc(1, "连接失败", "无法连接 连接不了"), kb.Doc(2, "打印机", "纸")])
    question = "打印机连不上"
    hits = index.search(kb.terms(question), 3, kb.expand(question, kb.synonym_table({})))
    weight = {term: w * index.idf(term) for term, w in kb.terms(question).items()}
    # The article has 连 itself, and three synonyms of 连不上: they count as 连不上 once.
    share = (weight["连"] + kb.SYNONYM_WEIGHT * weight["连不上"]) / sum(weight.values())
    assert {hit.key: hit.coverage for hit in hits}[1] == pytest.approx(share)


def test_off_topic_questions_sharing_colloquial_words_are_not_answered() -> None:
    articles = read_folders([str(KB)])
    index = kb.Index.build(kb.Doc(n, a.title, a.body) for n, a in enumerate(articles))
    table = kb.synonym_table({})
    for question in ("邮箱空间满了收不到邮件", "公司官网打不开", "饭卡充值失败了"):
        hits = index.search(kb.terms(question), 3, kb.expand(question, table))
        assert not kb.answerable(hits), (question, hits)


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

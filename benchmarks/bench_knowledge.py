"""The knowledge base (知识库初筛): answer quality on the evaluation set in tests/data/, and
speed at 5,000 articles.

Quality: top-1 and top-3 accuracy on the answerable questions, and the share of "none"
questions an answer is offered for (targets: top-3 ≥ 0.85, false answers ≤ 0.15), for the
whole set and for its colloquial questions (tests/data/kb/colloquial.toml). Speed:
building the index of 5,000 articles (< 10 s) and answering one question (< 20 ms), each next
to its bare reference: jieba cutting the same text, nothing else. The 5,000 articles are made
from the evaluation set's sentences, shuffled with a fixed seed.
"""

from __future__ import annotations

import random
import re
import statistics
import tomllib
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.common import ROOT, Row, fix_clock, timed

if TYPE_CHECKING:  # the runner imports this module; jieba loads only in the benchmark
    from domain.knowledge import Doc
    from handlers.knowledge_base import FileArticle

DATA = ROOT / "tests" / "data"
SUBSETS = {"questions": DATA / "kb_questions.toml", "colloquial": DATA / "kb" / "colloquial.toml"}
TOP3, FALSE_ANSWERS, INDEX_S, QUERY_MS = 0.85, 0.15, 10.0, 20.0


def run(smoke: bool) -> list[Row]:
    fix_clock()
    from domain import knowledge as kb
    from handlers.knowledge_base import read_folders

    articles = read_folders([str(DATA / "kb")])
    glossary = tomllib.loads((DATA / "kb_synonyms.toml").read_text(encoding="utf-8"))
    synonyms = kb.synonym_table(glossary["synonyms"])
    subsets = {name: tomllib.loads(path.read_text(encoding="utf-8"))["q"]
               for name, path in SUBSETS.items()}  # fmt: skip
    questions = [q for subset in subsets.values() for q in subset]
    quality = _quality(articles, synonyms, questions)
    colloquial = _quality(articles, synonyms, subsets["colloquial"])
    docs = _corpus(articles, 500 if smoke else 5000)
    import jieba  # type: ignore[import-untyped]

    jieba.setLogLevel(60)
    jieba.initialize()  # the dictionary is loaded once per process, by the first question
    bare_index = timed(lambda: [list(jieba.cut_for_search(d.title + d.body)) for d in docs])
    built: list[kb.Index] = []
    index_s = timed(lambda: built.append(kb.Index.build(docs)))
    texts = [q["text"] for q in questions] * (1 if smoke else 5)
    index = built[0]

    def cut(text: str) -> object:
        return list(jieba.cut_for_search(text))

    def ask(text: str) -> object:
        return index.search(kb.terms(text), 3, kb.expand(text, synonyms))

    ours: list[float] = []
    bare: list[float] = []
    for text in texts:
        bare.append(timed(partial(cut, text)) * 1000)
        ours.append(timed(partial(ask, text)) * 1000)
    query_ms = statistics.median(ours)
    n = len(docs)
    met = None if smoke else True
    return [
        Row(what="knowledge base top-1 accuracy", rentian=quality["top1"], reference=1.0,
            unit="share", reference_name="every question right", higher_is_better=True,
            target="", met=None, note=f"{quality['answerable']} answerable questions"),
        Row(what="knowledge base top-3 accuracy", rentian=quality["top3"], reference=1.0,
            unit="share", reference_name="every question right", higher_is_better=True,
            target=f"≥ {TOP3}", met=met and quality["top3"] >= TOP3),
        Row(what="knowledge base top-3 accuracy, colloquial questions", rentian=colloquial["top3"],
            reference=1.0, unit="share", reference_name="every question right",
            higher_is_better=True, target=f"≥ {TOP3}", met=met and colloquial["top3"] >= TOP3,
            note=f"{colloquial['answerable']} questions; top-1 {colloquial['top1']:.3f}"),
        Row(what="knowledge base answers on 'none' questions", rentian=quality["false"],
            reference=1.0, unit="share", reference_name="every question answered",
            higher_is_better=False, target=f"≤ {FALSE_ANSWERS}",
            met=met and max(quality["false"], colloquial["false"]) <= FALSE_ANSWERS,
            note=f"{quality['none']} questions; colloquial ones {colloquial['false']:.3f}"),
        Row(what=f"knowledge index build, {n} articles", rentian=index_s, reference=bare_index,
            unit="s", reference_name="jieba cut of the same text", higher_is_better=False,
            target="", met=met and index_s < INDEX_S, note=f"target < {INDEX_S:g} s (absolute)"),
        Row(what=f"knowledge query, {n} articles (median)", rentian=query_ms,
            reference=statistics.median(bare), unit="ms", reference_name="jieba cut of the question",
            higher_is_better=False, target="", met=met and query_ms < QUERY_MS,
            note=f"target < {QUERY_MS:g} ms (absolute); p95 "
                 f"{sorted(ours)[int(len(ours) * 0.95)]:.2f} ms"),
    ]  # fmt: skip


def _quality(
    articles: list[FileArticle], synonyms: dict[str, tuple[str, ...]], questions: list[Any]
) -> dict[str, float]:
    from domain import knowledge

    index = knowledge.Index.build(knowledge.Doc(n, a.title, a.body) for n, a in enumerate(articles))
    names = {n: Path(a.source.removeprefix("file:")).stem for n, a in enumerate(articles)}
    top1 = top3 = answerable = offered_on_none = nones = 0
    for question in questions:
        query = knowledge.terms(question["text"])
        hits = index.search(query, 3, knowledge.expand(question["text"], synonyms))
        found = [names[h.key] for h in hits] if knowledge.answerable(hits) else []
        if question["article"] == "none":
            nones += 1
            offered_on_none += bool(found)
        else:
            answerable += 1
            top1 += found[:1] == [question["article"]]
            top3 += question["article"] in found
    return {"top1": top1 / answerable, "top3": top3 / answerable,
            "false": offered_on_none / nones, "answerable": answerable, "none": nones}  # fmt: skip


def _corpus(articles: list[FileArticle], count: int) -> list[Doc]:
    from domain.knowledge import Doc

    sentences = [s for a in articles for s in re.split(r"(?<=[。；])", a.body) if s.strip()]
    titles = [a.title for a in articles]
    rng = random.Random(16)
    return [Doc(n, f"{rng.choice(titles)} {n}", "".join(rng.sample(sentences, 6)))
            for n in range(count)]  # fmt: skip

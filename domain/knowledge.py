"""The knowledge base's text rules (知识库初筛): how text is normalised, cut into words and
ranked, and when the best article is good enough to offer. Pure: no database, no clock.

Normalising makes the forms people type match the forms articles are written in: full-width
letters and digits become half-width (NFKC), traditional characters become simplified (a
compact table of the characters an operations engagement uses: a conversion library costs
more to import than the whole index takes to build), Latin letters lower-case.

Chinese has no spaces, so words come from jieba (search mode: "数据同步" gives 数据, 同步 and
数据同步); jieba is imported on first use only, it takes ~0.1 s and its dictionary ~0.5 s.
Each Chinese character of a word is also a term of lower weight, so a typo in one character
("卡屯" for "卡顿") still finds the article by the other.

Ranking is BM25 over those terms (our own ~40 lines: postings in dicts are fast enough for
thousands of articles, and need neither numpy nor scipy). Whether to answer at all is decided
by *coverage*: the share of the question's weight (IDF) that the best article matches — a raw
BM25 score depends on the question's length, a share does not.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Traditional -> simplified, for the characters of IT operations and of everyday questions.
_TRADITIONAL = (  # pairs: a traditional character, then its simplified form
    "數数據据庫库資资報报錶表賬账帳账號号碼码權权錄录網网絡络連连線线開开關关閉闭啟启動动執执錯错誤误問问題题處处時时間间過过設设務务單单項项調调試试員员戶户門门導导臺台雲云盤盘備备"
    "復复還还應应該该麼么為为嗎吗說说請请見见個个們们這这裡里裏里後后從从來来會会沒没對对發发現现寫写讀读傳传輸输機机電电腦脑體体驗验證证變变舊旧載载點点擊击頁页顯显區区隊队況况狀状"
    "態态監监運运維维護护級级別别組组織织構构層层節节塊块內内儲储讓让給给認认盡尽於于與与兩两並并當当邊边進进遠远適适選选擇择標标準准範范圍围際际預预計计劃划總总結结歷历紀纪檢检測测"
    "條条統统轉转換换實实獲获確确頓顿記记憶忆覽览鎖锁彈弹異异歸归檔档補补閘闸許许訪访終终續续緩缓衝冲軟软聯联繫系係系專专業业倉仓啓启雙双濾滤複复製制義义擴扩縮缩減减滿满佔占額额費费"
    "壓压釋释斷断陸陆頻频響响亂乱產产則则譯译冊册訂订閱阅樣样兒儿麵面鐘钟參参環环糾纠紛纷誌志週周帶带寬宽掛挂驅驱憑凭貼贴詢询諮咨視视頻频"
)
_SIMPLIFY = {ord(a): b for a, b in zip(_TRADITIONAL[::2], _TRADITIONAL[1::2], strict=True)}
_SPACE = re.compile(r"\s+")
_ASCII_WORD = re.compile(r"[a-z0-9][a-z0-9_.\-]*[a-z0-9]|[a-z0-9]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# Words that say nothing about what is asked: question words, particles, politeness.
_STOP = (
    "的 了 吗 吧 呢 啊 呀 哦 嘛 么 是 在 有 和 与 或 就 都 也 还 又 再 很 太 好 我 你 他 她 它 我们 你们 "
    "他们 这 那 这个 那个 这些 那些 哪 哪个 什么 怎么 怎么办 怎样 如何 为什么 为何 能 能不能 可以 可不可以 "
    "会 要 想 请问 请 麻烦 一下 一个 帮 帮忙 给 让 把 被 对 从 到 上 下 里 中 时 时候 吗? 呢? 老是 总是 "
    "一直 突然 是不是 还是 全是 干嘛 多少 一张 要多久 能否 可否 今天 昨天 现在 刚才 又是 不 没 没有 不了 不能 怎么回事 咋 咋办 啥 谁 知道 问 问题 大家 "
    "the a an is are was be to of in on for and or it i my we you how what why can do does not "
    "with this that please"
)
STOPWORDS = frozenset(_STOP.split())
CHAR_WEIGHT = 0.3  # a single character's share of a term (see the module's docstring)
SYNONYM_WEIGHT = 0.6
TITLE_REPEAT = 2  # a title's words count this many times


def normalise(text: str) -> str:
    """Half-width, simplified, lower-case, single-spaced."""
    text = unicodedata.normalize("NFKC", text).translate(_SIMPLIFY).lower()
    return _SPACE.sub(" ", text).strip()


def _jieba() -> Any:
    import jieba  # type: ignore[import-untyped]  # heavy (dictionary): loaded by the first question, never by cold commands

    jieba.setLogLevel(60)
    return jieba


def words(text: str) -> list[str]:
    """The normalised text's words (jieba's search mode), without stop words and punctuation."""
    found = []
    for word in _jieba().cut_for_search(normalise(text)):
        word = word.strip()
        if not word or word in STOPWORDS:
            continue
        if _CJK.search(word) or _ASCII_WORD.fullmatch(word):
            found.append(word)
    return found


def terms(text: str) -> dict[str, float]:
    """Weighted terms of `text`: its words (1.0) and their Chinese characters (`CHAR_WEIGHT`)."""
    weights: dict[str, float] = {}
    for word in words(text):
        _add(weights, word, 1.0)
    return weights


def _add(weights: dict[str, float], word: str, weight: float) -> None:
    weights[word] = weights.get(word, 0.0) + weight
    if len(word) > 1:
        for char in _CJK.findall(word):
            if char not in STOPWORDS:
                weights[char] = weights.get(char, 0.0) + weight * CHAR_WEIGHT


def expand(text: str, synonyms: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """The synonyms of what `text` says (`SYNONYM_WEIGHT` each): they help an article rank and
    count as matching the question, but a question is not less covered for having them. A
    Chinese glossary word is found anywhere in the text (jieba may cut it otherwise), a Latin
    one only as a whole word."""
    flat = normalise(text)
    latin = set(_ASCII_WORD.findall(flat))
    extra: dict[str, float] = {}
    for word, others in synonyms.items():
        if word in latin if _ASCII_WORD.fullmatch(word) else word in flat:
            for other in others:
                if other not in flat:
                    _add(extra, other, SYNONYM_WEIGHT)
    return extra


def synonym_table(groups: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """`{"卡顿": ["慢", "超时"]}` as a symmetric table: each word of a group finds the others."""
    table: dict[str, set[str]] = {}
    for head, others in groups.items():
        group = {normalise(w) for w in (head, *others) if normalise(w)}
        for word in group:
            table.setdefault(word, set()).update(group - {word})
    return {word: tuple(sorted(others)) for word, others in table.items()}


@dataclass(frozen=True)
class Doc:
    """An article as the index sees it: its key (an id), title and body."""

    key: int
    title: str
    body: str


@dataclass
class Index:
    """BM25 over weighted terms. Built once per version of an engagement's articles."""

    k1: float = 1.2
    b: float = 0.75
    postings: dict[str, dict[int, float]] = field(default_factory=dict)
    lengths: dict[int, float] = field(default_factory=dict)
    keys: list[int] = field(default_factory=list)

    @classmethod
    def build(cls, docs: Iterable[Doc]) -> Index:
        index = cls()
        for doc in docs:
            weights: Counter[str] = Counter()
            for _ in range(TITLE_REPEAT):
                weights.update(terms(doc.title))
            weights.update(terms(doc.body))
            index.keys.append(doc.key)
            index.lengths[doc.key] = sum(weights.values())
            for term, weight in weights.items():
                index.postings.setdefault(term, {})[doc.key] = weight
        return index

    def idf(self, term: str) -> float:
        n, df = len(self.keys), len(self.postings.get(term, ()))
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def search(
        self, query: Mapping[str, float], limit: int = 3, extra: Mapping[str, float] | None = None
    ) -> list[Hit]:
        """The best `limit` articles for `query` and its synonyms (`extra`), each with its
        score and its coverage of `query`."""
        if not self.keys:
            return []
        average = sum(self.lengths.values()) / len(self.keys)
        scores: dict[int, float] = {}
        matched: dict[int, float] = {}
        for term, qweight in (*query.items(), *(extra or {}).items()):
            docs = self.postings.get(term)
            if not docs:
                continue
            idf = self.idf(term)
            for key, tf in docs.items():
                norm = self.k1 * (1 - self.b + self.b * self.lengths[key] / average)
                scores[key] = scores.get(key, 0.0) + qweight * idf * tf * (self.k1 + 1) / (
                    tf + norm
                )
                matched[key] = matched.get(key, 0.0) + qweight * idf
        total = sum(qweight * self.idf(term) for term, qweight in query.items()) or 1.0
        best = sorted(scores, key=lambda key: (-scores[key], key))[:limit]
        return [Hit(key, scores[key], min(1.0, matched[key] / total)) for key in best]


@dataclass(frozen=True)
class Hit:
    key: int
    score: float
    coverage: float  # share of the question's IDF weight the article matches, 0..1


# Offer articles only when the best one matches at least this share of the question.
MIN_COVERAGE = 0.45


def answerable(hits: Sequence[Hit], min_coverage: float = MIN_COVERAGE) -> bool:
    """Whether the best article is worth offering; else "nothing found"."""
    return bool(hits) and hits[0].coverage >= min_coverage


def excerpt(body: str, query: Mapping[str, float], width: int = 60) -> str:
    """A short piece of `body` around its first matching word (the longest one first)."""
    flat = _SPACE.sub(" ", body).strip()
    lowered = normalise(flat)
    spot = -1
    for term in sorted(query, key=len, reverse=True):
        if len(term) > 1 or not _CJK.match(term):
            spot = lowered.find(term)
            if spot >= 0:
                break
    if spot < 0 or len(lowered) != len(flat):  # NFKC changed the length: start at the top
        spot = 0
    start = max(0, spot - width // 3)
    piece = flat[start : start + width]
    return ("…" if start > 0 else "") + piece + ("…" if start + width < len(flat) else "")

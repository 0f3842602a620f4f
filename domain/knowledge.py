"""The knowledge base's text rules (知识库初筛): how text is normalised, cut into words and
ranked, and when the best article is good enough to offer. Pure: no database, no clock.

Normalising makes the forms people type match the forms articles are written in: full-width
letters and digits become half-width (NFKC), traditional characters become simplified (a
compact table of the characters an operations engagement uses: a conversion library costs
more to import than the whole index takes to build), Latin letters lower-case, and common
typos are put right ("帐号" -> "账号", `domain.colloquial`), in questions and articles alike.

Chinese has no spaces, so words come from jieba (search mode: "数据同步" gives 数据, 同步 and
数据同步); jieba is imported on first use only, it takes ~0.1 s and its dictionary ~0.5 s.
Each Chinese character of a word is also a term of lower weight, so a typo in one character
("卡屯" for "卡顿") still finds the article by the other.

Synonyms are the built-in colloquial table (`domain.colloquial`: "连不上" for "连接失败") and an
engagement's glossary, applied to the question only: both sides of a group find each other, so
articles need no rewriting and the index does not depend on the glossary. A synonym found in an
article stands in for the question's word it was found for, once, at `SYNONYM_WEIGHT`.

Ranking is BM25 over those terms (our own ~40 lines: postings in dicts are fast enough for
thousands of articles, and need neither numpy nor scipy). Whether to answer at all is decided
by *coverage*: the share of the question's weight (IDF) that the best article matches — a raw
BM25 score depends on the question's length, a share does not.
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from domain.colloquial import COLLOQUIAL, respell

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
    "得 着 啦 呗 咯 嘞 哈 说 "  # chat's particles, and 说 as in "报错说…"
    "the a an is are was be to of in on for and or it i my we you how what why can do does not "
    "with this that please"
)
STOPWORDS = frozenset(_STOP.split())
CHAR_WEIGHT = 0.3  # a single character's share of a term (see the module's docstring)
SYNONYM_WEIGHT = 0.6
TITLE_REPEAT = 2  # a title's words count this many times


def normalise(text: str) -> str:
    """Half-width, simplified, lower-case, common typos put right, single-spaced."""
    text = respell(unicodedata.normalize("NFKC", text).translate(_SIMPLIFY).lower())
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


class Stand(NamedTuple):
    """A glossary word found in the question: the question's terms it stands over (those that
    overlap it in the text), and its synonyms, each as the words an article must have."""

    covers: frozenset[str]
    synonyms: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Expansion:
    """What the synonyms of a question's words add to it (see `expand`)."""

    stands: tuple[Stand, ...] = ()


def expand(text: str, synonyms: Mapping[str, Sequence[str]]) -> Expansion:
    """The synonyms of what `text` says. A Chinese glossary word is found anywhere in the text
    (jieba may cut it otherwise), a Latin one only as a whole word. A synonym is cut as an
    article's text is ("连接失败": 连接, 失败) and found in an article that has all its words;
    it stands in for the question's terms its word overlaps ("登不上去": 登, 上去), see
    `Index.search`."""
    flat = normalise(text)
    latin = set(_ASCII_WORD.findall(flat))
    stands = []
    question: list[str] | None = None
    for word, others in synonyms.items():
        if word in latin if _ASCII_WORD.fullmatch(word) else word in flat:
            found = {_beyond(_words_of(other), flat) for other in others}  # what to look for
            found.discard(())
            if found:
                question = question if question is not None else list(terms(text))
                spans = _spans(word, flat)
                covers = {t for t in question if _overlap(_spans(t, flat), spans)}
                stands.append(Stand(frozenset(covers), tuple(sorted(found))))
    return Expansion(tuple(stands))


def _beyond(synonym: tuple[str, ...], flat: str) -> tuple[str, ...]:
    """The synonym's words the question does not have, or all of them if it has every one
    ("慢" in "巨慢": an article that says 慢 still covers 巨慢)."""
    return tuple(word for word in synonym if word not in flat) or synonym


def _spans(part: str, text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.start() + len(part)) for m in re.finditer(re.escape(part), text)]


def _overlap(spans: Sequence[tuple[int, int]], others: Sequence[tuple[int, int]]) -> bool:
    return any(start < end2 and start2 < end for start, end in spans for start2, end2 in others)


@lru_cache(maxsize=4096)
def _words_of(synonym: str) -> tuple[str, ...]:
    return tuple(words(synonym))


def synonym_table(groups: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """`{"卡顿": ["慢", "超时"]}` as a symmetric table: each word of a group finds the others.
    The built-in colloquial groups (`domain.colloquial`) come first; `groups` (an engagement's
    glossary) extend them."""
    table = {word: set(others) for word, others in _builtin_table().items()}
    for word, others in _symmetric(groups).items():
        table.setdefault(word, set()).update(others)
    return {word: tuple(sorted(others)) for word, others in table.items()}


@lru_cache(maxsize=1)
def _builtin_table() -> dict[str, frozenset[str]]:
    return _symmetric(COLLOQUIAL)


def _symmetric(groups: Mapping[str, Sequence[str]]) -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for head, others in groups.items():
        group = {normalise(w) for w in (head, *others) if normalise(w)}
        for word in group:
            table.setdefault(word, set()).update(group - {word})
    return {word: frozenset(others) for word, others in table.items()}


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
    norms: dict[int, float] = field(default_factory=dict)  # BM25's length norm per article

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
        average = sum(index.lengths.values()) / (len(index.keys) or 1)
        for key, length in index.lengths.items():
            index.norms[key] = index.k1 * (1 - index.b + index.b * length / average)
        return index

    def idf(self, term: str) -> float:
        n, df = len(self.keys), len(self.postings.get(term, ()))
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def search(
        self, query: Mapping[str, float], limit: int = 3, extra: Expansion | None = None
    ) -> list[Hit]:
        """The best `limit` articles for `query` and its synonyms (`extra`), each with its
        score and its coverage of `query`. An article that has a synonym of a word found in
        the question (all the synonym's words) but not the question's terms that word stands
        over is credited with them once, at `SYNONYM_WEIGHT`: however many synonyms a word
        has, and however common their words ("连不上": 连接, 失败, 无法), they count no more
        than the word."""
        weights = {term: qweight * self.idf(term) for term, qweight in query.items()}
        saturation = self.k1 + 1
        scores: dict[int, float] = {}
        matched: dict[int, float] = {}
        for term, weight in weights.items():
            for key, tf in self.postings.get(term, {}).items():
                scores[key] = scores.get(key, 0.0) + weight * tf * saturation / (
                    tf + self.norms[key]
                )
                matched[key] = matched.get(key, 0.0) + weight
        for key, covered in self._stood_in(weights, extra).items():
            missing = SYNONYM_WEIGHT * sum(
                weights[term] for term in covered if key not in self.postings.get(term, ())
            )
            scores[key] = scores.get(key, 0.0) + missing * saturation / (1 + self.norms[key])
            matched[key] = matched.get(key, 0.0) + missing
        total = sum(weights.values()) or 1.0
        best = heapq.nsmallest(limit, scores, key=lambda key: (-scores[key], key))
        return [Hit(key, scores[key], min(1.0, matched[key] / total)) for key in best]

    def _stood_in(
        self, question: Mapping[str, float], extra: Expansion | None
    ) -> dict[int, set[str]]:
        """Per article having a synonym of a word found in the question (all the synonym's
        words): the question's terms that word stands over."""
        stood: dict[int, set[str]] = {}
        for stand in extra.stands if extra is not None else ():
            covered = {term for term in stand.covers if term in question}
            for synonym in stand.synonyms if covered else ():
                postings = [self.postings.get(word, {}) for word in synonym]
                for key in min(postings, key=len):
                    if all(key in p for p in postings):
                        stood.setdefault(key, set()).update(covered)
        return stood


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

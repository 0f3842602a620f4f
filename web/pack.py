"""The evidence pack (证据包): an engagement's signed records, or one month's, in a zip that
whoever holds it can verify with the Python standard library alone (its `verify.py`), without
trusting the server that made it.

What is in it:
- `records/<kind>-<ref>.json`: the signed content exactly as hashed (`content`: its canonical
  JSON is what the SHA-256 was taken of), its content hash and its signatures, each with the
  audit entry that recorded it; `records/<kind>-<ref>.html`: the same, for people. A recurring
  obligation's evidence (`obligation-O-n`) and an upgrade window's plan (`window-O-n`) are there
  too, signed or not, with the audit entry that recorded them (`recorded_by`);
- `audit.jsonl`: the chain from the engagement's first entry to its last (for a month: the
  entries of that month and of its records' signatures), one entry a line. The chain is
  shared by every engagement of the server: another engagement's entry in that range gives
  only its id, prev_hash and hash, so the links can be checked and nothing of its content
  leaks;
- `statements/<month>.xlsx`: the statement of each closed month;
- `README.txt`, `verify.py` (web/verify_pack.py), and `manifest.json`: every other file's
  SHA-256.

The zip is written to a spooled temporary file (in memory up to a few megabytes, then on
disk) and each file is hashed as it is written: a pack of any size takes bounded memory."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from sqlalchemy import and_, select
from sqlmodel import Session, col

from bot import clock
from bot.i18n import tr
from handlers import statement
from storage.models import AuditEntry, Engagement, Period
from web.render import env
from web.views import signatures as views

FORMAT = "rentian-evidence/1"
VERIFY_SOURCE = Path(__file__).with_name("verify_pack.py")
STYLE_SOURCE = Path(__file__).with_name("static") / "signatures.css"
_IN_MEMORY = 8 << 20  # the zip spills to disk past this
_FETCH = 2000  # audit rows per round trip
_COLUMNS = (
    col(AuditEntry.id), col(AuditEntry.at), col(AuditEntry.engagement_id), col(AuditEntry.actor),
    col(AuditEntry.action), col(AuditEntry.ref), col(AuditEntry.data),
    col(AuditEntry.prev_hash), col(AuditEntry.hash),
)  # fmt: skip


@dataclass(frozen=True)
class Built:
    """A pack written to `file` (positioned at its start): `size` bytes, named `filename`."""

    file: IO[bytes]
    size: int
    filename: str
    records: int
    audit_entries: int


class _Hashing:
    """A writable file that hashes what passes through it."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.target.write(data)


class _Pack:
    """The zip being written, and the SHA-256 of every file in it."""

    def __init__(self, file: IO[bytes], moment: datetime, timezone: str) -> None:
        self.zip = ZipFile(file, "w", ZIP_DEFLATED, allowZip64=True)
        local = clock.local(moment, timezone)
        self.date_time = (local.year, local.month, local.day, local.hour, local.minute,
                          local.second)  # fmt: skip
        self.hashes: dict[str, str] = {}

    def _info(self, name: str) -> ZipInfo:
        info = ZipInfo(name, date_time=self.date_time)  # the clock's, never the wall's
        info.compress_type = ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    def write(self, name: str, pieces: Iterable[str | bytes]) -> None:
        with self.zip.open(self._info(name), "w", force_zip64=True) as member:
            out = _Hashing(member)
            for piece in pieces:
                out.write(piece.encode() if isinstance(piece, str) else piece)
        self.hashes[name] = out.digest.hexdigest()

    def copy(self, name: str, path: Path) -> None:
        with path.open("rb") as source:
            self.write(name, iter(lambda: source.read(1 << 20), b""))

    def close(self) -> None:
        self.zip.close()


def build(session: Session, engagement: Engagement, month: str | None = None) -> Built:
    """The pack of `engagement` (or of `month` of it), written to a spooled temporary file."""
    now = clock.now()
    records = views.signed_records(session, engagement, month, unsigned_obligations=True)
    first, last = _range(session, engagement, records, month)
    spool = tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY)  # noqa: SIM115 (the caller closes it)
    pack = _Pack(spool, now, engagement.timezone)
    locale = engagement.locale
    style_written = False
    for record in records:
        signed = _record_json(engagement, record)
        pack.write(f"records/{record.name}.json", signed.pieces())
        pack.write(f"records/{record.name}.html", [_record_html(engagement, record, signed)])
        if not style_written:
            pack.copy("records/record.css", STYLE_SOURCE)
            style_written = True
    statements = _statements(session, engagement, records, month, pack)
    entries = pack_audit(session, engagement.id or 0, first, last, pack)
    pack.write("README.txt", [readme(engagement, month, first, last, locale)])
    pack.copy("verify.py", VERIFY_SOURCE)
    manifest = {
        "format": FORMAT,
        "engagement": {"id": engagement.id, "code": engagement.code, "name": engagement.name,
                       "client": engagement.client, "vendor": engagement.vendor,
                       "timezone": engagement.timezone},
        "month": month,
        "generated_at": now.isoformat(),
        "audit": {"first_id": first, "last_id": last, "entries": entries},
        "records": [f"records/{r.name}.json" for r in records],
        "statements": statements,
        "files": dict(sorted(pack.hashes.items())),
    }  # fmt: skip
    pack.write("manifest.json", [json.dumps(manifest, ensure_ascii=False, indent=1) + "\n"])
    pack.close()
    size = spool.tell()
    spool.seek(0)
    name = f"evidence-{engagement.code}{'-' + month if month else ''}.zip"
    return Built(spool, size, name, len(records), entries)


# -- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SignedJson:
    head: dict[str, Any]
    record: views.SignedRecord

    def pieces(self) -> Iterator[str]:
        """The record's JSON: readable fields, then `content` (streamed for a month)."""
        text = json.dumps(self.head, ensure_ascii=False, indent=1)
        yield text[:-2] + ',\n "content": '
        yield from self.record.content_text()
        yield "\n}\n"


def _record_json(engagement: Engagement, record: views.SignedRecord) -> _SignedJson:
    current = record.content_hash()
    head = {
        "kind": record.kind,
        "ref": record.ref,
        "subject": record.subject,
        "engagement": engagement.code,
        "title": record.title,
        "state": record.state,
        "content_hash": current,
        "recorded_hash": record.recorded_hash,
        "hash_of": "SHA-256 of the UTF-8 bytes of canonical JSON of `content`: keys sorted, "
                   "no spaces, non-ASCII kept (json.dumps(content, sort_keys=True, "
                   "separators=(',', ':'), ensure_ascii=False))",
        "details": _jsonable(record.details) if record.kind != "scope" else {},
        "signatures": [_signature_json(engagement, s) for s in record.signatures],
    }  # fmt: skip
    if record.kind in ("obligation", "window"):
        head["recorded_by"] = [_recording_json(engagement, r) for r in record.recordings]
    return _SignedJson(head, record)


def _signature_json(engagement: Engagement, s: views.SignatureView) -> dict[str, Any]:
    return {
        "person": s.person_key, "name": s.person_name, "party": s.party, "roles": list(s.roles),
        "content_hash": s.content_hash, "at": s.at.isoformat(),
        "at_local": _local(engagement, s.at), "via": s.via, "message": s.message,
        "audit_id": s.audit_id, "audit_hash": s.audit_hash,
    }  # fmt: skip


def _recording_json(engagement: Engagement, r: views.Recording) -> dict[str, Any]:
    return {"action": r.action, "actor": r.actor, "content_hash": r.content_hash,
            "at": r.at.isoformat(), "at_local": _local(engagement, r.at),
            "audit_id": r.audit_id, "audit_hash": r.audit_hash}  # fmt: skip


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _local(engagement: Engagement, moment: datetime) -> str:
    return clock.local(moment, engagement.timezone).isoformat(timespec="minutes")


def _readable(engagement: Engagement, moment: datetime) -> str:
    local = clock.local(moment, engagement.timezone)
    return f"{local:%Y-%m-%d %H:%M} ({engagement.timezone})"


def _readable_iso(engagement: Engagement, moment: str) -> str:
    return _readable(engagement, datetime.fromisoformat(moment)) if moment else "—"


def _record_html(engagement: Engagement, record: views.SignedRecord, signed: _SignedJson) -> str:
    locale = engagement.locale

    def t(zh: str, en: str, **values: Any) -> str:
        return tr(locale, zh, en, **values)

    return env.get_template("record.html").render(
        t=t, locale=locale, lang="en" if locale == "en" else "zh", engagement=engagement,
        record=record, head=signed.head, hours_per_day=engagement.hours_per_day,
        local=lambda moment: _readable(engagement, moment), stylesheet="record.css",
        local_iso=lambda moment: _readable_iso(engagement, moment),
        state_name=lambda state, kind="": views.state_name(state, locale, kind),
    )  # fmt: skip


# -- statements -------------------------------------------------------------------------------


def _statements(session: Session, engagement: Engagement, records: list[views.SignedRecord],
                month: str | None, pack: _Pack) -> list[str]:  # fmt: skip
    """The xlsx of each closed (or locked) month: the one built for its record, if any."""
    from handlers import statement_export  # XlsxWriter: loaded when a pack is made, not before

    closed = session.execute(
        select(col(Period.month)).where(
            col(Period.engagement_id) == engagement.id,
            col(Period.status).in_(("closed", "locked")),
        ).order_by(col(Period.month))
    ).scalars()  # fmt: skip
    built = {r.ref: r.statement for r in records if r.statement is not None}
    names = []
    with tempfile.TemporaryDirectory(prefix="rentian-pack-") as folder:
        for closed_month in closed:
            if month is not None and closed_month != month:
                continue
            got = built.get(closed_month) or statement.build(session, engagement, closed_month)
            path = Path(folder) / f"{closed_month}.xlsx"
            statement_export.write_xlsx(got, path)
            name = f"statements/statement-{engagement.code}-{closed_month}.xlsx"
            pack.copy(name, path)
            path.unlink()
            names.append(name)
    return names


# -- the audit extract ------------------------------------------------------------------------


def _range(session: Session, engagement: Engagement, records: list[views.SignedRecord],
           month: str | None) -> tuple[int | None, int | None]:  # fmt: skip
    """The ids the extract spans: the engagement's first entry to its last; for a month, its
    entries in that month and those of its records' signatures."""
    eid = engagement.id or 0
    ids = [s.audit_id for r in records for s in r.signatures if s.audit_id is not None]
    ids += [entry.audit_id for r in records for entry in r.recordings]
    if month is None:
        first, last = views.span(session, eid)
    else:
        start, end = views.month_window(engagement, month)
        query = select(col(AuditEntry.id)).where(
            col(AuditEntry.engagement_id) == eid,
            and_(col(AuditEntry.at) >= start, col(AuditEntry.at) < end),
        )
        first = session.execute(query.order_by(col(AuditEntry.id)).limit(1)).scalar()
        last = session.execute(query.order_by(col(AuditEntry.id).desc()).limit(1)).scalar()
    bounds = [i for i in (first, last, *ids) if i is not None]
    return (min(bounds), max(bounds)) if bounds else (None, None)


def pack_audit(session: Session, engagement_id: int, first: int | None, last: int | None,
               pack: _Pack) -> int:  # fmt: skip
    """Write `audit.jsonl`: entries `first`..`last`, this engagement's in full, others' as id,
    prev_hash and hash. Returns how many."""
    count = 0

    def lines() -> Iterator[str]:
        nonlocal count
        if first is None or last is None:
            return
        query = select(*_COLUMNS).where(
            col(AuditEntry.id) >= first, col(AuditEntry.id) <= last
        ).order_by(col(AuditEntry.id))  # fmt: skip
        result = session.connection().execute(query, execution_options={"yield_per": _FETCH})
        for chunk in result.partitions():
            out = []
            for entry_id, at, owner, actor, action, ref, data, prev_hash, digest in chunk:
                if owner == engagement_id:
                    line = {"id": entry_id, "at": at.isoformat(), "engagement_id": owner,
                            "actor": actor, "action": action, "ref": ref, "data": data,
                            "prev_hash": prev_hash, "hash": digest}  # fmt: skip
                else:
                    line = {"id": entry_id, "prev_hash": prev_hash, "hash": digest,
                            "withheld": True}  # fmt: skip
                out.append(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
            count += len(out)
            yield "".join(out)

    pack.write("audit.jsonl", lines())
    return count


def readme(engagement: Engagement, month: str | None, first: int | None, last: int | None,
           locale: str) -> str:  # fmt: skip
    del locale  # both languages, Chinese first
    scope = f"{engagement.code} {engagement.name}" + (f" — {month}" if month else "")
    span = f"#{first}–#{last}" if first is not None else "—"
    return README.format(scope=scope, span=span)


README = """人天 Rentian 证据包 / evidence pack: {scope}

【这是什么】
本证据包收录本项目已签署的记录（范围基线、变更单、验收单、月度人天结算），定期义务的完成证明
与升级窗口方案（无论是否已签署，均附记录它们的审计条目），以及校验它们所需的审计链摘录，可在不信任
服务器的情况下自行核验：
  records/*.json    签署内容（content，其规范 JSON 的 SHA-256 即内容哈希）、内容哈希、各方签署
                    （签署人、一方、时间、渠道与消息、记录该签署的审计条目）
  records/*.html    同一记录的可读版本
  audit.jsonl       审计链摘录，条目 {span}：本项目的条目完整给出；区间内其他项目的条目只给出
                    id、prev_hash、hash（审计链由服务器上所有项目共用，不泄露其他项目的内容）
  statements/       已关闭月份的人天结算单（xlsx）
  manifest.json     其余每个文件的 SHA-256
  verify.py         校验脚本，只用 Python 标准库（Python 3.9 及以上）

【如何校验】
解压后在本目录运行：
    python3 verify.py
全部成立时输出“通过”并以 0 退出；否则列出失败项并以非 0 退出。
若保存了项目群的聊天记录（签署回复和每日同步的末行带有审计链锚点，形如 #1234·3f9a12bc4d5e0718），
再运行：
    python3 verify.py --anchors 聊天记录.txt

【能证明什么，不能证明什么】
- 每份记录的内容与其哈希一致，各方签署的正是这一内容，每个签署（以及每项义务的完成证明、
  升级窗口方案）都记录在审计链中。
- 摘录中本项目的每个条目内容与哈希一致，相邻条目首尾相连，中间没有被删除或插入的条目。
- 其他项目的条目只核对了链接，其内容无法（也不应）在此核对。
- 仅凭本包无法排除：掌握数据库的人改写某个条目后重新计算了之后所有的哈希。能排除这一点的是
  当时发到群里的锚点：用 --anchors 核对；服务器运营方也可运行 rentian audit verify --anchors。

What this is
The engagement's signed records (scope baselines, change requests, acceptances, monthly
person-day closes), the recurring obligations' evidence and upgrade windows' plans (signed or
not, each with the audit entry that recorded it), with the audit chain extract needed to check
them, so that you can verify them without trusting the server:
  records/*.json    the signed content (`content`: the SHA-256 of its canonical JSON is the
                    content hash), the content hash, and each party's signature (who, which
                    party, when, the channel and message, the audit entry that recorded it)
  records/*.html    the same record, readable
  audit.jsonl       the audit chain extract, entries {span}: this engagement's entries in full;
                    other engagements' entries in that range give only id, prev_hash and hash
                    (the chain is shared by every engagement on the server; nothing of their
                    content is disclosed)
  statements/       the statement (xlsx) of each closed month
  manifest.json     the SHA-256 of every other file
  verify.py         the checker, Python standard library only (Python 3.9 or later)

How to verify
Unzip, then in this folder run:
    python3 verify.py
It prints PASSED and exits 0 when everything holds; otherwise it lists what fails and exits
non-zero. If you kept the engagement chat (signing replies and the daily sync end with an audit
chain anchor such as #1234·3f9a12bc4d5e0718), also run:
    python3 verify.py --anchors chat.txt

What it proves, and what it does not
- Each record's content matches its hash, the parties signed exactly that content, and every
  signature (and every obligation's evidence or window plan) is recorded in the audit chain.
- Each of this engagement's entries in the extract matches its hash, consecutive entries link,
  and no entry was deleted or inserted between them.
- Other engagements' entries are checked for their links only: their content is not (and must
  not be) checkable here.
- The pack alone cannot rule out that whoever holds the database rewrote an entry and
  recomputed every later hash. The anchors posted in the chat at the time do: check them with
  --anchors (the operator can also run `rentian audit verify --anchors`).
"""

#!/usr/bin/env python3
"""verify.py — checks a Rentian evidence pack (证据包) with the Python standard library alone
(Python 3.9 or later), so that whoever holds the pack can verify it without trusting the
server that made it.

    python3 verify.py                        # the pack in this script's folder
    python3 verify.py --anchors chat.txt     # and the chain anchors kept in the chat

It re-checks: every file against the SHA-256 in manifest.json; every signed record's content
against its content hash and its signatures; every audit entry's hash and the links between
consecutive entries; that every signature appears in the audit extract as the entry that
recorded it, and so does every recurring obligation's evidence and upgrade window's plan
(`recorded_by`: the entry that recorded the same content hash); and, with --anchors, every anchor (#id·hash) found in a saved chat text whose
entry is in the extract. It exits 0 only when everything holds.

This file is shipped inside the pack as verify.py; in the Rentian source it is
web/verify_pack.py (keep it standard-library only, Python >= 3.9).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

GENESIS = "genesis"
FORMAT = "rentian-evidence/1"
# An anchor in pasted text, as the server writes and reads it (storage/audit.py `_ANCHOR`).
ANCHOR = re.compile(
    r"(?<![0-9A-Za-z&#])#([0-9]{1,18})\s?(?:[·・•‧∙]|\\u00[bB]7|&middot;|&#183;)\s?"
    r"([0-9a-fA-F]{12,64})(?![0-9A-Za-z])"
)
_SHOWN = 20  # failures listed per check; the rest are counted


def canonical(data: Any) -> str:
    """Stable JSON as the server hashes it: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def entry_hash(entry: dict[str, Any]) -> str:
    """An audit entry's hash: SHA-256 of canonical [prev_hash, at, engagement_id, actor,
    action, ref, data] (`at` in ISO 8601, UTC; `data` the canonical JSON string as stored)."""
    return sha256(canonical([entry["prev_hash"], entry["at"], entry["engagement_id"],
                             entry["actor"], entry["action"], entry["ref"], entry["data"]]))  # fmt: skip


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Report:
    """Each check's outcome, in both languages; the first failure is kept for the last line."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def ok(self, zh: str, en: str) -> None:
        print(f"  OK    {zh} / {en}")

    def fail(self, zh: str, en: str) -> None:
        line = f"{zh} / {en}"
        self.failures.append(line)
        if len(self.failures) <= _SHOWN:
            print(f"  FAIL  {line}")

    def section(self, zh: str, en: str) -> None:
        print(f"\n== {zh} / {en}")


def load_json(path: Path, report: Report, name: str) -> Any | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        report.fail(f"{name} 无法读取或不是有效的 JSON（{error}）",
                    f"{name} cannot be read or is not valid JSON ({error})")  # fmt: skip
        return None


def check_manifest(folder: Path, manifest: dict[str, Any], report: Report) -> None:
    report.section("文件与清单 manifest.json 的 SHA-256", "files against manifest.json's SHA-256")
    files: dict[str, str] = manifest.get("files", {})
    bad = 0
    for name in sorted(files):
        path = folder / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            report.fail(f"清单中的路径不合法：{name}", f"the manifest names an unsafe path: {name}")
            bad += 1
        elif not path.is_file():
            report.fail(f"缺少文件 {name}", f"file missing: {name}")
            bad += 1
        elif file_hash(path) != files[name]:
            report.fail(f"{name} 的内容与清单中的哈希不符（文件被改动过）",
                        f"{name} does not match its hash in the manifest (the file was changed)")  # fmt: skip
            bad += 1
    if not bad:
        report.ok(f"{len(files)} 个文件的哈希均一致", f"all {len(files)} files match")


def read_audit(path: Path, report: Report) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    try:
        with path.open(encoding="utf-8") as file:
            for number, line in enumerate(file, 1):
                try:
                    entries.append(json.loads(line))
                except ValueError:
                    report.fail(f"audit.jsonl 第 {number} 行不是有效的 JSON",
                                f"audit.jsonl line {number} is not valid JSON")  # fmt: skip
    except (OSError, UnicodeDecodeError) as error:
        report.fail(f"无法读取 audit.jsonl（{error}）", f"cannot read audit.jsonl ({error})")
    return entries


def check_chain(entries: list[dict[str, Any]], report: Report) -> dict[int, dict[str, Any]]:
    """Each full entry's hash recomputed; every entry's prev_hash is the hash of the entry
    before it. Returns the entries whose hash and link hold, by id."""
    report.section("审计链摘录 audit.jsonl", "the audit chain extract, audit.jsonl")
    good: dict[int, dict[str, Any]] = {}
    previous: dict[str, Any] | None = None
    full = withheld = 0
    for entry in entries:
        try:
            entry_id, prev_hash, digest = int(entry["id"]), entry["prev_hash"], entry["hash"]
        except (KeyError, TypeError, ValueError):
            report.fail(
                "审计条目缺少 id、prev_hash 或 hash", "an audit entry lacks id, prev_hash or hash"
            )
            previous = None
            continue
        holds = True
        if previous is not None and int(previous["id"]) >= entry_id:
            report.fail(
                f"审计条目 #{entry_id} 的顺序不对", f"audit entry #{entry_id} is out of order"
            )
            holds = False
        if previous is not None and prev_hash != previous["hash"]:
            report.fail(f"审计条目 #{entry_id} 与前一条（#{previous['id']}）的链接断开",
                        f"audit entry #{entry_id} does not link to the entry before it "
                        f"(#{previous['id']})")  # fmt: skip
            holds = False
        if previous is None and entries and entry is not entries[0]:
            holds = False  # after an unreadable entry: its link cannot be checked
        if entry.get("withheld"):
            withheld += 1
        else:
            full += 1
            try:
                recomputed = entry_hash(entry)
            except KeyError as missing:
                recomputed = f"(missing {missing})"
            if recomputed != digest:
                report.fail(f"审计条目 #{entry_id}（{entry.get('action', '?')} {entry.get('ref', '')}）"
                            "的内容与其哈希不符（条目被改动过）",
                            f"audit entry #{entry_id} ({entry.get('action', '?')} "
                            f"{entry.get('ref', '')}) does not match its hash (it was changed)")  # fmt: skip
                holds = False
        if holds:
            good[entry_id] = entry
        previous = entry
    if entries and len(good) == len(entries):
        first, last = entries[0], entries[-1]
        report.ok(f"{len(entries)} 条审计条目（#{first['id']}–#{last['id']}）哈希与链接均成立："
                  f"本项目 {full} 条完整重算，其他项目 {withheld} 条仅核对链接",
                  f"{len(entries)} audit entries (#{first['id']}-#{last['id']}) hold: {full} of "
                  f"this engagement recomputed in full, {withheld} of other engagements linked "
                  "only")  # fmt: skip
    elif not entries:
        report.fail("审计摘录为空", "the audit extract is empty")
    return good


def check_records(
    folder: Path, manifest: dict[str, Any], good: dict[int, dict[str, Any]], report: Report
) -> None:
    report.section("签署记录（内容哈希与签署）", "signed records (content hashes and signatures)")
    engagement_id = manifest.get("engagement", {}).get("id")
    names = sorted(n for n in manifest.get("files", {}) if n.startswith("records/")
                   and n.endswith(".json"))  # fmt: skip
    present = sorted(str(p.relative_to(folder).as_posix())
                     for p in (folder / "records").glob("*.json"))  # fmt: skip
    for extra in sorted(set(present) - set(names)):
        report.fail(f"{extra} 不在清单中", f"{extra} is not in the manifest")
    held = signatures = recordings = 0
    for name in names:
        path = folder / name
        if not path.is_file():
            continue  # reported with the manifest
        record = load_json(path, report, name)
        if not isinstance(record, dict):
            continue
        if check_record(name, record, engagement_id, good, report):
            held += 1
            signatures += len(record.get("signatures") or [])
            recordings += len(record.get("recorded_by") or [])
    if names and held == len(names):
        report.ok(f"{held} 份签署记录的内容哈希一致，{signatures} 个签署、{recordings} 个义务证明或"
                  "窗口方案的记录均在审计链中",
                  f"{held} signed records hash to what was signed; all {signatures} signatures "
                  f"and {recordings} obligation evidence or window plan entries are in the audit "
                  "chain")  # fmt: skip
    elif not names:
        report.ok("本证据包没有签署记录", "this pack holds no signed record")


def check_record(name: str, record: dict[str, Any], engagement_id: Any,
                 good: dict[int, dict[str, Any]], report: Report) -> bool:  # fmt: skip
    what = f"{name}（{record.get('subject', '?')}）"
    what_en = f"{name} ({record.get('subject', '?')})"
    if "content" not in record:
        report.fail(f"{what} 缺少签署内容", f"{what_en} has no signed content")
        return False
    digest = sha256(canonical(record["content"]))
    holds = True
    if digest != record.get("content_hash"):
        report.fail(f"{what} 的内容与其内容哈希不符：内容被改动过",
                    f"{what_en}: its content does not hash to its content hash: the content was "
                    "changed")  # fmt: skip
        holds = False
    signed = record.get("signatures") or []
    recorded = record.get("recorded_by") or []
    if not signed and not recorded:
        report.fail(f"{what} 没有签署", f"{what_en} has no signature")
        return False
    for signature in signed:
        holds = check_signature(what, what_en, record, signature, digest, engagement_id,
                                good, report) and holds  # fmt: skip
    for recording in recorded:
        holds = check_recording(what, what_en, record, recording, digest, engagement_id,
                                good, report) and holds  # fmt: skip
    return holds


def audited(
    audit_id: Any, good: dict[int, dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The audit entry `audit_id` of the extract, checked and not withheld, with its data."""
    entry = good.get(audit_id) if isinstance(audit_id, int) else None
    if entry is None or entry.get("withheld"):
        return None
    try:
        data = json.loads(entry["data"])
    except (TypeError, ValueError):
        data = {}
    return entry, data if isinstance(data, dict) else {}


def check_recording(what: str, what_en: str, record: dict[str, Any], recording: dict[str, Any],
                    digest: str, engagement_id: Any, good: dict[int, dict[str, Any]],
                    report: Report) -> bool:  # fmt: skip
    """An obligation's evidence or a window's plan: the audit entry that recorded it is in the
    extract, of this engagement and this record, and recorded this very content hash."""
    found = audited(recording.get("audit_id"), good)
    if found is None:
        report.fail(f"{what}：记录它的审计条目不在摘录中（或未通过校验）",
                    f"{what_en}: the audit entry that recorded it is not in the extract (or "
                    "failed)")  # fmt: skip
        return False
    entry, data = found
    if (entry.get("engagement_id"), entry.get("ref"), data.get("hash")) != (
        engagement_id,
        record.get("ref"),
        digest,
    ):
        report.fail(f"{what}：内容与记录它的审计条目 #{entry['id']} 不符",
                    f"{what_en}: its content differs from what audit entry #{entry['id']} "
                    "recorded")  # fmt: skip
        return False
    return True


def check_signature(what: str, what_en: str, record: dict[str, Any], signature: dict[str, Any],
                    digest: str, engagement_id: Any, good: dict[int, dict[str, Any]],
                    report: Report) -> bool:  # fmt: skip
    who = f"{signature.get('name', '?')}（{signature.get('party', '?')}）"
    who_en = f"{signature.get('name', '?')} ({signature.get('party', '?')})"
    if signature.get("content_hash") != digest:
        report.fail(f"{what}：{who} 签署的内容哈希与记录内容不符",
                    f"{what_en}: {who_en} signed a content hash the record's content does not "
                    "have")  # fmt: skip
        return False
    audit = audited(signature.get("audit_id"), good)
    if audit is None:
        report.fail(f"{what}：{who} 的签署不在审计链摘录中（或其条目未通过校验）",
                    f"{what_en}: {who_en}'s signature is not in the audit extract (or its entry "
                    "failed)")  # fmt: skip
        return False
    entry, data = audit
    expected = (engagement_id, signature.get("person"), signature.get("at"), digest,
                signature.get("party"))  # fmt: skip
    found = (entry.get("engagement_id"), entry.get("actor"), entry.get("at"), data.get("hash"),
             data.get("party"))  # fmt: skip
    # The entry names the record signed: its subject.
    if found != expected or entry.get("ref") != record.get("subject"):
        report.fail(f"{what}：{who} 的签署与审计条目 #{entry['id']} 不符",
                    f"{what_en}: {who_en}'s signature differs from audit entry #{entry['id']}")  # fmt: skip
        return False
    return True


def check_anchors(
    path: Path, entries: list[dict[str, Any]], good: dict[int, dict[str, Any]], report: Report
) -> None:
    report.section(f"锚点（{path}）", f"anchors ({path})")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        report.fail(f"无法读取 {path}（{error}）", f"cannot read {path} ({error})")
        return
    anchors: list[tuple[int, str]] = list(dict.fromkeys(
        (int(position), prefix.lower()) for position, prefix in ANCHOR.findall(text)
    ))  # fmt: skip
    if not anchors:
        report.fail(f"{path} 中没有锚点（形如 #1234·3f9a12bc4d5e0718）",
                    f"no anchors in {path} (they look like #1234·3f9a12bc4d5e0718)")  # fmt: skip
        return
    ids = [int(e["id"]) for e in entries if "id" in e]
    low, high = (min(ids), max(ids)) if ids else (0, -1)
    held = outside = 0
    for position, prefix in anchors:
        if not low <= position <= high:
            outside += 1
            continue
        entry = good.get(position)
        if entry is None:
            report.fail(f"锚点 #{position}·{prefix}：摘录中没有此条目",
                        f"anchor #{position}·{prefix}: no such entry in the extract")  # fmt: skip
        elif not str(entry["hash"]).startswith(prefix):
            report.fail(f"锚点 #{position}·{prefix} 不符：该条目或其之前的条目被改写过",
                        f"anchor #{position}·{prefix} fails: that entry, or one before it, was "
                        "rewritten")  # fmt: skip
        else:
            held += 1
    report.ok(f"{held} 个锚点相符，{outside} 个在摘录范围之外（未核对）",
              f"{held} anchors hold, {outside} lie outside the extract (not checked)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    parser = argparse.ArgumentParser(description="Verify a Rentian evidence pack.")
    parser.add_argument("folder", nargs="?", default=os.path.dirname(os.path.abspath(__file__)),
                        help="the unzipped pack (default: this script's folder)")  # fmt: skip
    parser.add_argument("--anchors", help="a saved chat text with audit chain anchors")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    report = Report()
    print("人天 Rentian 证据包校验 / evidence pack verification")
    manifest = load_json(folder / "manifest.json", report, "manifest.json")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        report.fail("manifest.json 缺失或格式不对", "manifest.json is missing or not a pack's")
        return finish(report)
    engagement = manifest.get("engagement", {})
    print(f"项目 / engagement: {engagement.get('code')} {engagement.get('name', '')}"
          f"{'  ' + manifest['month'] if manifest.get('month') else ''}")  # fmt: skip
    check_manifest(folder, manifest, report)
    entries = read_audit(folder / "audit.jsonl", report)
    good = check_chain(entries, report)
    check_records(folder, manifest, good, report)
    if args.anchors:
        check_anchors(Path(args.anchors), entries, good, report)
    return finish(report)


def finish(report: Report) -> int:
    print()
    if not report.failures:
        print(
            "通过：所有哈希、签署和审计链均成立。 / PASSED: every hash, signature and link holds."
        )
        return 0
    more = len(report.failures) - _SHOWN
    if more > 0:
        print(f"（另有 {more} 项失败未列出 / {more} more failures not listed）")
    print(f"未通过 / FAILED ({len(report.failures)}): {report.failures[0]}")
    return 1


if __name__ == "__main__":
    sys.exit(main())

"""The email channel's pure half: recorded mails (`tests/payloads/mail/*.eml`, listed with what
each must become in `tests/payloads/mail.json`) as an `Inbound`, the commands it stands for and
the note its body adds to a new ticket; and outbox rows as emails."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.email.parse import body_note, commands, parse, reply_handle, split_handle
from adapters.email.render import message_id, render, subject
from bot.message import Outgoing
from tests.recorded import NOW, PAYLOADS, load

RECORDED = load("mail.json")
ADDRESS, AUTHSERV = RECORDED["address"], RECORDED["authserv_id"]


@pytest.mark.parametrize("case", RECORDED["mails"], ids=[c["file"] for c in RECORDED["mails"]])
def test_a_recorded_mail_parses_to_its_commands(case: dict[str, Any]) -> None:
    raw = (PAYLOADS / "mail" / case["file"]).read_bytes()
    inbound = parse(raw, address=ADDRESS, now=NOW, authserv_id=AUTHSERV)
    if case["inbound"] is None:
        assert inbound is None  # a robot's mail is never answered
        return
    assert inbound is not None
    seen = {key: getattr(inbound, key) for key in case["inbound"]}
    seen["chat_type"], seen["assurance"] = str(inbound.chat_type), inbound.assurance.name
    assert seen == case["inbound"]
    attached = [list(a) for a in inbound.raw["attachments"]]
    assert {**inbound.raw, "attachments": attached} == case["raw"]
    assert [[step.text, step.event_id] for step in commands(inbound)] == case["commands"]
    note = body_note(inbound, "T-99")
    assert (note.text if note else None) == case["body_note_on_T-99"]


def test_a_reply_handle_names_the_mail_and_its_sender() -> None:
    handle = reply_handle("<a1@client.example>", "wangli@client.example")
    assert split_handle(handle) == ("<a1@client.example>", "wangli@client.example")
    assert split_handle("<bare@client.example>") == ("<bare@client.example>", "")


def row(**fields: Any) -> Outgoing:
    base: dict[str, Any] = {
        "id": 34, "channel": "email", "recipient_type": "chat", "address": ADDRESS,
        "kind": "ticket.opened", "ref": "T-12", "text": "T-12 已创建\n响应时限 30 分钟",
    }  # fmt: skip
    return Outgoing(**{**base, **fields})


def test_an_answer_threads_under_the_mail_it_answers() -> None:
    answer = row(reply_to=reply_handle("<a1@client.example>", "wangli@client.example"))
    email = render(answer, address=ADDRESS)
    assert email is not None
    assert (email["To"], email["In-Reply-To"], email["References"]) == (
        "wangli@client.example", "<a1@client.example>", "<a1@client.example>",
    )  # fmt: skip
    assert email["Message-ID"] == "<rentian.T-12.34@vendor.example>"  # a reply finds T-12
    assert (email["Subject"], email["Auto-Submitted"]) == ("[T-12] T-12 已创建", "auto-replied")


def test_a_notice_goes_to_the_person_and_a_post_to_no_one() -> None:
    notice = render(row(recipient_type="person", address="zhoumin@vendor.example"), address=ADDRESS)
    assert notice is not None and notice["Auto-Submitted"] == "auto-generated"
    assert render(row(), address=ADDRESS) is None  # mail has no group to post in


def test_subjects_are_the_first_line_clipped_and_ids_carry_the_reference() -> None:
    assert subject(row(ref="", text="\n\n  " + "长" * 90)) == "长" * 79 + "…"
    assert message_id(row(ref=""), "") == "<rentian.msg.34@rentian.invalid>"

"""Every outgoing message speaks its engagement's language, on every channel (issue #11 item 9).

The locale travels engagement -> outbox row -> `Outgoing` -> each channel's renderer. The
engagements' chats are console chats, so the same `Outgoing` is rendered through every
platform's renderer with its channel and address replaced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from email.message import EmailMessage
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, select
from sqlmodel import Session

from adapters.dingtalk.render import render as dingtalk_render
from adapters.email.render import render as email_render
from adapters.feishu.render import render as feishu_render
from adapters.wecom.render import card as wecom_card
from app.runtime import Runtime
from bot import clock, notify
from bot.dispatcher import to_outgoing
from bot.i18n import DEFAULT_LOCALE
from bot.message import Outgoing
from config.settings import DEMO_ENGAGEMENT
from storage import outbox
from storage.db import transaction
from storage.migrate import alembic_config, current_revision, upgrade
from storage.models import Engagement, OutboxMessage, Person
from tests.harness import ConsoleHarness, english_engagement

MAILBOX = "support@vendor.example"

# Per locale, per card kind: the card's title and button labels.
EXPECTED = {
    "zh-CN": {
        "cr.estimated": ("变更单待签署 CR-1", ["签署", "驳回"]),
        "sla.breach": ("SLA 超时 T-1", ["响应"]),
        "delivery.submitted": ("交付物待验收 D-1", ["验收", "驳回"]),
    },
    "en": {
        "cr.estimated": ("Change request to sign CR-1", ["Sign", "Reject"]),
        "sla.breach": ("SLA breach T-1", ["Acknowledge"]),
        "delivery.submitted": ("Deliverable to accept D-1", ["Accept", "Reject"]),
    },
}  # fmt: skip


@dataclass(frozen=True)
class Case:
    harness: ConsoleHarness
    locale: str
    cards: dict[str, tuple[str, list[str]]]  # kind -> (title, button labels)


@pytest.fixture(params=["zh-CN", "en"])
def case(request: pytest.FixtureRequest, runtime: Runtime, tmp_path: Path) -> Case:
    """The demo engagement in each locale (as the `demo` and `en` fixtures build it)."""
    if request.param == "en":
        harness = ConsoleHarness(runtime, chat="en-group")
        harness.apply(english_engagement(tmp_path))
    else:
        harness = ConsoleHarness(runtime)
        harness.apply(DEMO_ENGAGEMENT)
    return Case(harness, request.param, EXPECTED[request.param])


def feishu_card(message: Outgoing) -> tuple[str, list[str]]:
    msg_type, content = feishu_render(replace(message, channel="feishu", address="oc_group"))
    assert msg_type == "interactive"
    card = json.loads(content)
    (buttons,) = [e["actions"] for e in card["elements"] if e["tag"] == "action"]
    return card["header"]["title"]["content"], [b["text"]["content"] for b in buttons]


def dingtalk_card(message: Outgoing) -> tuple[str, list[str]]:
    call = dingtalk_render(replace(message, channel="dingtalk", address="cid_group"), "robot")
    param = json.loads(call.body["msgParam"])
    labels = [param[k] for k in sorted(param) if k.startswith("actionTitle")]
    return param["title"], labels or [param["singleTitle"]]


def wecom_labels(message: Outgoing) -> list[str]:
    body = wecom_card(replace(message, channel="wecom", address="u_sun"), 1000002, "u_sun")
    assert body is not None
    return [b["text"] for b in body["template_card"]["button_list"]]


def mail(message: Outgoing) -> EmailMessage:
    direct = replace(message, channel="email", recipient_type="person", address="a@client.example")
    rendered = email_render(direct, address=MAILBOX)
    assert rendered is not None
    return rendered


def assert_rendered_in(message: Outgoing, locale: str, title: str, labels: list[str]) -> None:
    """Every channel's renderer shows the card of `message` in `locale`."""
    assert message.locale == locale
    assert feishu_card(message) == (title, labels)
    assert dingtalk_card(message) == (title, labels)
    assert wecom_labels(message) == labels[:1]  # WeCom's cards carry no Reject button
    assert mail(message)["Content-Language"] == locale


def test_a_change_request_card_speaks_the_engagement_language(case: Case) -> None:
    harness, locale, cards = case.harness, case.locale, case.cards
    harness.one("liuyang", '/cr "inventory report" daily stock summary at 8')
    assert harness.one("sunwei", "/cr estimate CR-1 senior=3 mid=2 due=+5d").kind == "cr.estimated"
    (row,) = harness.outbox(kind="cr.estimated")
    assert row.locale == locale
    message = to_outgoing(row)
    assert_rendered_in(message, locale, *cards["cr.estimated"])
    assert mail(message)["Subject"].startswith("[CR-1] 📐 CR-1 ")


def test_a_scheduler_alert_speaks_the_engagement_language(case: Case) -> None:
    harness, locale, cards = case.harness, case.locale, case.cards
    harness.at("2026-11-25T10:00:00+08:00")
    harness.one("wangli", "/ticket P1 production database down")
    harness.at("2026-11-25T10:16:00+08:00")  # P1 first response due in 15 min: breached
    harness.tick()
    rows = harness.outbox(kind="sla.breach")
    assert {r.recipient_type for r in rows} == {"chat", "person"}
    for row in rows:
        assert row.locale == locale
        assert_rendered_in(to_outgoing(row), locale, *cards["sla.breach"])


def test_a_direct_message_speaks_the_engagement_language(case: Case) -> None:
    harness, locale, cards = case.harness, case.locale, case.cards
    with transaction(harness.runtime.engine) as session:
        engagement = session.execute(select(Engagement)).scalar_one()
        person = session.execute(select(Person).where(Person.key == "wang.li")).scalar_one()
        row_id = notify.to_person(session, engagement, person, now=clock.now(),
                                  kind="delivery.submitted", ref="D-1", text="D-1")  # fmt: skip
    (row,) = harness.outbox(id=row_id)
    assert (row.recipient_type, row.locale) == ("person", locale)
    assert_rendered_in(to_outgoing(row), locale, *cards["delivery.submitted"])


def enqueue_note(session: Session, engagement_id: int | None = None,
                 locale: str | None = None) -> int:  # fmt: skip
    row_id = outbox.enqueue(session, now=clock.now(), channel="console", recipient_type="chat",
                            recipient="c", address="c", kind="note", text="x",
                            engagement_id=engagement_id, locale=locale)  # fmt: skip
    assert row_id is not None
    return row_id


def locales(engine: Engine, ids: list[int]) -> list[str]:
    with transaction(engine) as session:
        query = select(OutboxMessage.locale).where(OutboxMessage.id.in_(ids))  # type: ignore[union-attr]
        return list(session.execute(query.order_by(OutboxMessage.id)).scalars())  # type: ignore[arg-type]


def test_enqueue_takes_an_explicit_locale_and_defaults_without_an_engagement(
    en: ConsoleHarness,
) -> None:
    with transaction(en.runtime.engine) as session:
        engagement = session.execute(select(Engagement)).scalar_one()
        ids = [enqueue_note(session), enqueue_note(session, engagement.id),
               enqueue_note(session, engagement.id, locale="zh-CN")]  # fmt: skip
    assert locales(en.runtime.engine, ids) == [DEFAULT_LOCALE, "en", "zh-CN"]


def test_migration_gives_earlier_rows_their_engagement_locale(en: ConsoleHarness) -> None:
    engine = en.runtime.engine
    with transaction(engine) as session:
        engagement = session.execute(select(Engagement)).scalar_one()
        ids = [enqueue_note(session, engagement.id), enqueue_note(session)]
    command.downgrade(alembic_config(engine), "0005")  # the rows, as 0005 kept them
    try:
        assert current_revision(engine) == "0005"
    finally:
        upgrade(engine)
    assert locales(engine, ids) == ["en", DEFAULT_LOCALE]

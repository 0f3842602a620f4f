"""Recorded platform payloads (`tests/payloads/`) and the fields of what they parse to.

Each data file pairs a payload, as the platform sends it, with the `Inbound` it must become
(or null: ignored), and outbox rows with the platform message they must render to.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.message import Inbound, Outgoing

PAYLOADS = Path(__file__).parent / "payloads"
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
    return data


def cases(section: list[dict[str, Any]]) -> dict[str, Any]:
    """pytest.mark.parametrize arguments: one case per entry, named by its `name`."""
    return {"argvalues": section, "ids": [case["name"] for case in section]}


def fields(inbound: Inbound | None) -> dict[str, Any] | None:
    """What a recorded case says about an `Inbound` (its time is `NOW`, its raw per platform)."""
    if inbound is None:
        return None
    return {
        "channel": inbound.channel, "chat_id": inbound.chat_id,
        "chat_type": str(inbound.chat_type), "sender_id": inbound.sender_id,
        "sender_name": inbound.sender_name, "sender_alt_ids": list(inbound.sender_alt_ids),
        "text": inbound.text, "event_id": inbound.event_id, "message_id": inbound.message_id,
        "reply_to": inbound.reply_to,
        "mentions": [[m.external_id, m.name, m.is_bot] for m in inbound.mentions],
        "assurance": inbound.assurance.name,
    }  # fmt: skip


def outgoing(recorded: dict[str, Any]) -> Outgoing:
    return Outgoing(**recorded)

"""The Feishu / Lark channel: signed, encrypted callbacks or the long connection in, messages
and interactive cards out.

- `parse`: a verified `im.message.receive_v1` event or a card click as an `Inbound` (pure);
- `render`: an outbox row as a text message or an interactive card (pure);
- `client`: the sender, over the SDK's client, with the row's key as Feishu's dedupe `uuid`;
- `webhook`: `POST /webhooks/feishu`, verified by the SDK, plus a freshness window;
- `longconn`: the SDK's websocket client in a thread of its own (`mode = "longconn"`);
- `adapter`: the channel as the framework sees it.

Only `create` lives here: importing the package loads no SDK (lark_oapi takes seconds).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.feishu.adapter import FeishuAdapter
    from config.settings import Settings


def create(settings: Settings) -> FeishuAdapter:
    from adapters.feishu.adapter import FeishuAdapter

    return FeishuAdapter(settings)

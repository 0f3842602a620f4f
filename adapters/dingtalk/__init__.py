"""The DingTalk (钉钉) channel: robot messages in (stream, or the signed HTTP callback), out
through the robot APIs.

- `parse`: a robot callback (`ChatbotMessage` JSON) as an `Inbound` (pure);
- `signature`: the HTTP callback's signature and its freshness (pure);
- `render`: an outbox row as a robot API call, text or ActionCard (pure);
- `client`: the sender, with our own HTTP client, token cache and timeouts;
- `webhook`: `POST /webhooks/dingtalk` in `mode = "http"`;
- `stream`: the SDK's stream client in a thread of its own (`mode = "stream"`, the default);
- `adapter`: the channel as the framework sees it.

A group's chat id is its `conversationId` (an open conversation id, "cid..."); a direct chat's
chat id is the sender's staff id. Only `create` lives here: importing the package loads no SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.dingtalk.adapter import DingtalkAdapter
    from config.settings import Settings


def create(settings: Settings) -> DingtalkAdapter:
    from adapters.dingtalk.adapter import DingtalkAdapter

    return DingtalkAdapter(settings)

"""The WeChat Work (企业微信) channel: the app's encrypted callback in, messages out.

- `parse`: a decrypted callback message or card click as an `Inbound` (pure);
- `render`: an outbox row as a WeCom API call, or a button card (pure);
- `client`: the sender, over wechatpy's client pointed at `api_base`;
- `webhook`: `GET`/`POST /webhooks/wecom`, verified and decrypted by wechatpy;
- `adapter`: the channel as the framework sees it.

Text from a direct chat with the app has the user id as its chat id; text from an app group
chat (appchat) carries `ChatId`, the chat id. Without a `ChatId` it counts as direct. Only
`create` lives here: importing the package loads no SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.wecom.adapter import WecomAdapter
    from config.settings import Settings


def create(settings: Settings) -> WecomAdapter:
    from adapters.wecom.adapter import WecomAdapter

    return WecomAdapter(settings)

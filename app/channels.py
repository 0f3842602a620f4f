"""Which adapter serves which channel, imported only when its channel is enabled.

Each adapter package exposes `create(settings) -> ChannelAdapter`. Importing one may be slow
(lark_oapi takes ~2 s), so `load` imports it on demand and never before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.channels import ChannelAdapter
    from config.settings import Settings

ADAPTERS: dict[str, str] = {
    "feishu": "adapters.feishu",
    "dingtalk": "adapters.dingtalk",
    "wecom": "adapters.wecom",
    "email": "adapters.email",
}


def load(name: str, settings: Settings) -> ChannelAdapter:
    """The adapter of channel `name`, imported now."""
    module = importlib.import_module(ADAPTERS[name])
    adapter: ChannelAdapter = module.create(settings)
    return adapter

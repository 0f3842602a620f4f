"""Process settings: `config/rentian.toml` (or `--config`), overridden by `RENTIAN_*` variables.

Every key can come from the environment as `RENTIAN_<SECTION>__<KEY>`; secrets belong there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG = Path("config/rentian.toml")
DEFAULT_DB = "sqlite:///data/rentian.db"
DEMO_ENGAGEMENT = Path(__file__).with_name("demo-engagement.toml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HttpSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8080


class BotSettings(_Section):
    # Names people use to @-mention the bot on the console and in plain-text channels.
    names: list[str] = Field(default_factory=lambda: ["rentian", "人天", "bot", "机器人"])


class OutboxSettings(_Section):
    max_attempts: int = Field(default=8, ge=1)
    backoff_seconds: int = Field(default=10, ge=1)  # first retry; doubles each time
    backoff_max_seconds: int = Field(default=3600, ge=1)
    batch: int = Field(default=50, ge=1)
    lease_seconds: int = Field(default=120, ge=10)  # a claimed row is retried after this


class FeishuSettings(_Section):
    enabled: bool = False
    mode: Literal["webhook", "longconn"] = "webhook"
    app_id: str = ""
    app_secret: str = ""
    encrypt_key: str = ""
    verification_token: str = ""
    domain: str = "https://open.feishu.cn"


class DingtalkSettings(_Section):
    enabled: bool = False
    mode: Literal["stream", "http"] = "stream"
    client_id: str = ""
    client_secret: str = ""
    robot_code: str = ""
    api_base: str = "https://api.dingtalk.com"


class WecomSettings(_Section):
    enabled: bool = False
    corp_id: str = ""
    agent_id: int = 0
    secret: str = ""
    token: str = ""
    encoding_aes_key: str = ""
    api_base: str = "https://qyapi.weixin.qq.com"


class EmailSettings(_Section):
    enabled: bool = False
    address: str = "support@vendor.example"
    imap_host: str = ""
    imap_port: int = 993
    imap_tls: bool = True
    imap_user: str = ""
    imap_password: str = ""
    imap_folder: str = "INBOX"
    smtp_host: str = ""
    smtp_port: int = 465
    smtp_tls: bool = True
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""


class Settings(BaseSettings):
    """Everything a running Rentian needs to know about its environment."""

    model_config = SettingsConfigDict(
        env_prefix="RENTIAN_", env_nested_delimiter="__", extra="forbid"
    )

    db: str = DEFAULT_DB
    http: HttpSettings = Field(default_factory=HttpSettings)
    bot: BotSettings = Field(default_factory=BotSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    feishu: FeishuSettings = Field(default_factory=FeishuSettings)
    dingtalk: DingtalkSettings = Field(default_factory=DingtalkSettings)
    wecom: WecomSettings = Field(default_factory=WecomSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_path()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def enabled_channels(self) -> list[str]:
        """The console always; each platform when its section says `enabled = true`."""
        platforms = {
            "feishu": self.feishu, "dingtalk": self.dingtalk,
            "wecom": self.wecom, "email": self.email,
        }  # fmt: skip
        return ["console", *(name for name, section in platforms.items() if section.enabled)]


def _config_path() -> Path | None:
    explicit = os.environ.get("RENTIAN_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        return path
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def load_settings(**overrides: object) -> Settings:
    """Settings from init values, the environment and the TOML file, in that order."""
    return Settings(**overrides)  # type: ignore[arg-type]

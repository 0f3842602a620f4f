"""Process settings: `config/rentian.toml` (or `--config`), overridden by `RENTIAN_*` variables.

Every key can come from the environment as `RENTIAN_<SECTION>__<KEY>`; secrets belong there.
Each value's shape is checked whenever it is set, and what a channel needs only when it is
enabled: a bad setting stops every command before it starts, with one line per problem naming
the field and never the value, which may be a secret (see `describe`).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from base.errors import ConfigError
from config.values import (
    BaseUrl,
    Host,
    Port,
    Visible,
    check_aes_key,
    check_email_address,
    check_feishu_app_id,
    check_feishu_domain,
    check_host,
    check_not_blank,
    check_wecom_token,
    invalid,
)

DEFAULT_CONFIG = Path("config/rentian.toml")
DEFAULT_DB = "sqlite:///data/rentian.db"
DEMO_ENGAGEMENT = Path(__file__).with_name("demo-engagement.toml")

# -- sections


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Channel(_Section):
    """A platform section: off by default; when on, every setting `_needs` names must be set."""

    enabled: bool = False

    def _needs(self) -> list[str]:
        raise NotImplementedError

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> Self:
        if not self.enabled:
            return self
        missing = [name for name in self._needs() if not getattr(self, name)]
        if missing:
            names = ", ".join(missing[:-1]) + " and " + missing[-1] if missing[1:] else missing[0]
            raise invalid("enabled, but {names} {verb} not set", names=names,
                           verb="are" if missing[1:] else "is")  # fmt: skip
        return self


class HttpSettings(_Section):
    host: Annotated[str, AfterValidator(check_not_blank), AfterValidator(check_host)] = "127.0.0.1"
    port: Port = 8080
    # Largest request body read, before any signature check; larger ones get 413.
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)


class BotSettings(_Section):
    # Names people use to @-mention the bot on the console and in plain-text channels.
    names: list[Annotated[str, AfterValidator(check_not_blank)]] = Field(
        default_factory=lambda: ["rentian", "人天", "bot", "机器人"]
    )


class OutboxSettings(_Section):
    max_attempts: int = Field(default=8, ge=1, le=100)
    backoff_seconds: int = Field(default=10, ge=1, le=86_400)  # first retry; doubles each time
    backoff_max_seconds: int = Field(default=3600, ge=1, le=7 * 86_400)
    batch: int = Field(default=50, ge=1, le=1000)
    lease_seconds: int = Field(default=120, ge=10, le=86_400)  # a claimed row is retried after this

    @model_validator(mode="after")
    def _backoff_grows(self) -> Self:
        if self.backoff_max_seconds < self.backoff_seconds:
            raise invalid("backoff_max_seconds must be at least backoff_seconds")
        return self


class DatabaseSettings(_Section):
    # SQLite's `synchronous` in WAL mode: NORMAL syncs at checkpoints, so a power loss may
    # undo the last commits (never corrupt the file); FULL syncs every commit. See
    # docs/operations.md, "Durability". PostgreSQL keeps its own settings.
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    pool_size: int = Field(default=8, ge=1, le=100)  # connections kept open per process


class IntakeSettings(_Section):
    """The inbox between a platform's callback and the bus (docs/architecture.md, "Intake")."""

    workers: int = Field(default=2, ge=1, le=32)  # threads taking inbox rows, per process
    batch: int = Field(default=32, ge=1, le=500)  # rows at most in one transaction
    poll_seconds: float = Field(default=0.5, ge=0.01, le=60)  # idle poll, for other instances' rows
    # `rentian serve`: "separate" handles the inbox (and runs the dispatcher and the scheduler)
    # in a worker process of its own, so acknowledgements never wait behind command handling;
    # "inline" does it all in the serving process.
    process: Literal["separate", "inline"] = "separate"


class ConsoleSettings(_Section):
    """The web console (docs/architecture.md, "Web console") and its one-time sign-in links."""

    # Where people reach the server, for the links `/看板` sends (behind a proxy: its https
    # address); empty: http://<http.host>:<http.port>. Over https the cookie is Secure.
    public_url: BaseUrl = ""
    link_minutes: int = Field(default=15, ge=1, le=60)  # a sign-in link's life
    links_per_hour: int = Field(default=5, ge=1, le=60)  # links one account may ask for
    session_hours: int = Field(default=10, ge=1, le=24)  # a working day


class SchedulerSettings(_Section):
    # How often an instance that does not run the scheduler asks whether it may (PostgreSQL:
    # the leader's advisory lock goes with its connection when it dies).
    leader_poll_seconds: float = Field(default=10, ge=0.1, le=300)


class FeishuSettings(_Channel):
    mode: Literal["webhook", "longconn"] = "webhook"
    app_id: Annotated[str, AfterValidator(check_feishu_app_id)] = ""
    app_secret: Visible = ""
    encrypt_key: Visible = ""  # the webhook's signature key (X-Lark-Signature) and AES key
    verification_token: Visible = ""
    domain: Annotated[str, AfterValidator(check_feishu_domain)] = "https://open.feishu.cn"

    def _needs(self) -> list[str]:
        # Without the token the SDK refuses Feishu's own callbacks (they carry one) and takes
        # unsigned posts from anyone; the long connection logs in with the app's credentials.
        # Without the encrypt key a callback carries no signature at all: fail closed.
        webhook = ["encrypt_key", "verification_token"] if self.mode == "webhook" else []
        return ["app_id", "app_secret", *webhook, "domain"]


class DingtalkSettings(_Channel):
    mode: Literal["stream", "http"] = "stream"
    client_id: Visible = ""
    client_secret: Visible = ""  # also the key of the HTTP mode's signatures
    robot_code: Visible = ""  # every proactive send names the robot
    api_base: BaseUrl = "https://api.dingtalk.com"
    # HTTP mode only. Its signature covers the timestamp, not the body: a captured pair is
    # accepted once, within this many seconds, and never for signing unless allowed here.
    http_window_seconds: int = Field(default=300, ge=30, le=3600)
    http_allow_signing: bool = False

    def _needs(self) -> list[str]:
        return ["client_id", "client_secret", "robot_code", "api_base"]


class WecomSettings(_Channel):
    corp_id: Visible = ""
    agent_id: int = Field(default=0, ge=0)
    secret: Visible = ""
    token: Annotated[str, AfterValidator(check_wecom_token)] = ""
    encoding_aes_key: Annotated[str, AfterValidator(check_aes_key)] = ""
    api_base: BaseUrl = "https://qyapi.weixin.qq.com"

    def _needs(self) -> list[str]:
        # The callback is always installed, so its token and key are needed too.
        return ["corp_id", "agent_id", "secret", "token", "encoding_aes_key", "api_base"]


class EmailSettings(_Channel):
    address: Annotated[str, AfterValidator(check_email_address)] = "support@vendor.example"
    imap_host: Host = ""  # none: send only, the mailbox is not watched
    imap_port: Port = 993
    imap_tls: bool = True
    imap_user: str = ""
    imap_password: str = ""
    imap_folder: str = "INBOX"
    smtp_host: Host = ""
    smtp_port: Port = 465
    smtp_tls: bool = True
    smtp_starttls: bool = False
    smtp_user: str = ""
    smtp_password: str = ""
    # The authserv-id our own MTA writes in Authentication-Results (RFC 8601); only those
    # headers are trusted. Empty: mail may open tickets and add to them, nothing more.
    authserv_id: Visible = ""

    def _needs(self) -> list[str]:
        watch = ["imap_user", "imap_folder"] if self.imap_host else []
        return ["address", "smtp_host", *watch]

    @model_validator(mode="after")
    def _one_kind_of_tls(self) -> Self:
        if self.enabled and self.smtp_tls and self.smtp_starttls:
            raise invalid("smtp_tls and smtp_starttls exclude each other: TLS from the start "
                           "(port 465) or STARTTLS (port 587)")  # fmt: skip
        return self


class Settings(BaseSettings):
    """Everything a running Rentian needs to know about its environment."""

    model_config = SettingsConfigDict(
        env_prefix="RENTIAN_", env_nested_delimiter="__", extra="forbid"
    )

    db: str = DEFAULT_DB
    http: HttpSettings = Field(default_factory=HttpSettings)
    bot: BotSettings = Field(default_factory=BotSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
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
            sources.append(_toml_source(settings_cls, path))
        return tuple(sources)

    def console_url(self) -> str:
        """The web console's address, for links: `console.public_url`, or this server's."""
        return (self.console.public_url or f"http://{self.http.host}:{self.http.port}").rstrip("/")

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
            raise ConfigError([f"{path}: file not found"], "settings")
        return path
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def _toml_source(settings_cls: type[BaseSettings], path: Path) -> TomlConfigSettingsSource:
    try:
        return TomlConfigSettingsSource(settings_cls, toml_file=path)
    except tomllib.TOMLDecodeError as error:
        problem = f"TOML syntax error: {error}"
    except UnicodeDecodeError:
        problem = "not UTF-8 text"
    except OSError as error:
        problem = f"cannot read the file ({error.strerror or error})"
    raise ConfigError([f"{path}: {problem}"], "settings")


def load_settings(**overrides: object) -> Settings:
    """Settings from init values, the environment and the TOML file, in that order."""
    return Settings(**overrides)  # type: ignore[arg-type]


_WORDING = {  # pydantic's own errors, in the words of the checks above
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "literal_error": "must be {expected}",
}


def describe(error: ValidationError) -> list[str]:
    """`section.key: problem` for each error of `Settings` validation; values are left out."""
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in item["loc"])
        if item["type"] == "extra_forbidden":
            problem = "unknown setting" + _did_you_mean(item["loc"])
        elif item["type"] in _WORDING:
            problem = _WORDING[item["type"]].format(**item.get("ctx", {}))
        else:
            problem = item["msg"]
        lines.append(f"{field}: {problem}")
    return lines


def _did_you_mean(loc: tuple[int | str, ...]) -> str:
    fields: dict[str, Any] = Settings.model_fields
    for part in loc[:-1]:
        fields = getattr(fields[str(part)].annotation, "model_fields", {}) if part in fields else {}
    close = difflib.get_close_matches(str(loc[-1]), list(fields), n=1)
    return f" (did you mean {close[0]}?)" if close else ""

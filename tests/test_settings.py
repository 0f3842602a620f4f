"""Settings: defaults, the TOML file, environment overrides, and the documented example."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from config.settings import DEFAULT_DB, Settings, load_settings

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "rentian.example.toml"


def test_defaults() -> None:
    settings = load_settings()
    assert settings.db == DEFAULT_DB and settings.http.port == 8080
    assert settings.enabled_channels() == ["console"]
    assert settings.feishu.domain == "https://open.feishu.cn"


def test_example_file_documents_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RENTIAN_CONFIG", str(EXAMPLE))
    settings = load_settings()
    assert settings.outbox.max_attempts == 8 and settings.dingtalk.mode == "stream"
    documented = EXAMPLE.read_text(encoding="utf-8")
    for section, model in Settings.model_fields.items():
        if section == "db":
            continue
        assert f"[{section}]" in documented, section
        for key in model.annotation.model_fields:  # type: ignore[union-attr]
            assert f"\n{key} = " in documented, f"{section}.{key} is not documented"


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "rentian.toml"
    config.write_text(
        '[feishu]\nenabled = true\napp_id = "cli_1"\nencrypt_key = "e"\nverification_token = "v"\n[http]\nport = 9000\n', encoding="utf-8"
    )
    monkeypatch.setenv("RENTIAN_CONFIG", str(config))
    monkeypatch.setenv("RENTIAN_FEISHU__APP_SECRET", "from-env")
    monkeypatch.setenv("RENTIAN_HTTP__PORT", "9100")
    monkeypatch.setenv("RENTIAN_DB", "sqlite:///elsewhere.db")
    monkeypatch.setenv("RENTIAN_NOW", "2026-11-25T10:00:00+08:00")  # not a setting: ignored here
    settings = load_settings()
    assert settings.feishu.app_secret == "from-env" and settings.feishu.app_id == "cli_1"
    assert settings.http.port == 9100 and settings.db == "sqlite:///elsewhere.db"
    assert settings.enabled_channels() == ["console", "feishu"]


def test_config_file_in_the_working_directory_is_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "rentian.toml").write_text("[http]\nport = 8181\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_settings().http.port == 8181


def test_unknown_key_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[feishu]\napp_secrt = 'x'\n", encoding="utf-8")
    monkeypatch.setenv("RENTIAN_CONFIG", str(config))
    with pytest.raises(ValidationError, match="app_secrt"):
        load_settings()

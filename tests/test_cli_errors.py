"""What the operator sees when something is wrong: one line on stderr, exit status 2, no
traceback and no secret; a reader that goes away or Ctrl-C ends a command quietly."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from app import ops
from app.cli import main
from config.settings import DEMO_ENGAGEMENT
from storage.db import make_engine
from storage.migrate import MIGRATIONS, head_revision, known_revisions

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-25T10:00:00+08:00"
BAD_AES_KEY = "Sup3rSecretKey" * 3  # 42 characters, one short


def rentian(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """`python -m app` as its own process, with a fixed clock."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "RENTIAN_NOW": NOW, **env}
    return subprocess.Popen(
        [sys.executable, "-m", "app", *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=full_env,
    )  # fmt: skip


def one_line(stderr: str) -> str:
    assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    return stderr.rstrip("\n")


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated SQLite database of this test's own (its schema revision may be rewritten)."""
    path = tmp_path / "rentian.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def set_revision(url: str, revision: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


# -- settings ------------------------------------------------------------------------------


def test_serve_with_a_short_aes_key_says_so_in_one_line(tmp_path: Path) -> None:
    process = rentian(
        "serve", "--port", "1",
        env={"RENTIAN_DB": f"sqlite:///{tmp_path / 'rentian.db'}", "RENTIAN_WECOM__ENABLED": "true",
             "RENTIAN_WECOM__ENCODING_AES_KEY": BAD_AES_KEY},
    )  # fmt: skip
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2, err
    assert one_line(err) == (
        "rentian: settings: wecom.encoding_aes_key: must be 43 characters of base64 (got 42)"
    )
    assert BAD_AES_KEY not in err and out == ""


def test_a_missing_config_file_named_by_option(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    process = rentian("--config", str(missing), "tick", env={})
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert one_line(err) == f"rentian: settings: {missing}: file not found"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "[http\nport = 8080\n",
            "TOML syntax error: Expected ']' at the end of a table declaration",
        ),
        ("[http]\nprot = 8080\n", "http.prot: unknown setting (did you mean port?)"),
        ("[wecom]\ntoken = 'my token'\n", "wecom.token: must be 1-32 letters or digits"),
    ],
)
def test_a_bad_config_file(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
    content: str,
    expected: str,
) -> None:
    config = tmp_path / "rentian.toml"
    config.write_text(content, encoding="utf-8")
    monkeypatch.setenv("RENTIAN_CONFIG", str(config))
    assert main(["--db", sqlite_url, "outbox"]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("rentian: settings: ") and expected in line


def test_serve_refuses_a_port_out_of_range(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--port", "65536"])
    assert exited.value.code == 2
    assert "argument --port: not a port number (1-65535): '65536'" in capsys.readouterr().err


def test_settings_are_checked_before_the_database(capsys, monkeypatch) -> None:
    monkeypatch.setenv("RENTIAN_HTTP__PORT", "0")
    assert main(["--db", "nonsense://x", "init"]) == 2
    assert one_line(capsys.readouterr().err) == "rentian: settings: http.port: must be at least 1"


# -- files and databases -------------------------------------------------------------------


def test_a_missing_engagement_file(sqlite_url: str, capsys) -> None:
    assert main(["--db", sqlite_url, "engagement", "apply", "missing.toml"]) == 2
    assert one_line(capsys.readouterr().err) == "rentian: missing.toml: file not found"


USE = "use sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/NAME"


@pytest.mark.parametrize("command", ["init", "outbox"])
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("nonsense://x", f"nonsense://x: not a supported database ({USE})"),
        ("nonsense", f"not a database URL ({USE})"),
        ("mysql://me:hunter2@db/rentian", f"mysql://me:***@db/rentian: not a supported database ({USE})"),
        ("postgresql+psycopg2://db/x", f"postgresql+psycopg2://db/x: not a supported database ({USE})"),
    ],
)  # fmt: skip
def test_a_database_url_of_no_supported_database(
    capsys, command: str, url: str, expected: str
) -> None:
    assert main(["--db", url, command]) == 2
    assert one_line(capsys.readouterr().err) == f"rentian: database: {expected}"


def test_a_sqlite_file_in_a_missing_folder(tmp_path: Path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'nonexistent' / 'dir' / 'x.db'}"
    assert main(["--db", url, "init"]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"rentian: database: {url}: cannot create the folder {tmp_path / 'nonexistent' / 'dir'}: "
        f"{tmp_path / 'nonexistent'} does not exist"
    )
    assert not (tmp_path / "nonexistent").exists()


def test_only_init_creates_a_database(tmp_path: Path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'typo.db'}"
    assert main(["--db", url, "say", "--chat", "demo-group", "--user", "wangli", "/进度"]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"rentian: database: {url}: no such file; run `rentian init` to create it"
    )
    assert not (tmp_path / "data").exists()
    assert main(["--db", url, "init"]) == 0
    assert main(["--db", url, "outbox"]) == 0


def test_an_unreachable_postgresql_hides_the_password(capsys) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for command in ("init", "tick"):
        assert main(["--db", f"postgresql://rentian:hunter2@127.0.0.1:{port}/x", command]) == 2
        line = one_line(capsys.readouterr().err)
        assert line.startswith(
            f"rentian: database: postgresql+psycopg://rentian:***@127.0.0.1:{port}/x: connection failed"
        )
        assert "hunter2" not in line


def test_a_schema_newer_than_the_code(sqlite_url: str, capsys) -> None:
    set_revision(sqlite_url, "0099")
    expected = (
        f"rentian: database: {sqlite_url}: schema revision 0099 is newer than this Rentian "
        f"(knows up to {head_revision()}); upgrade Rentian"
    )
    for command in (
        ["init"],
        ["tick"],
        ["say", "--chat", "demo-group", "--user", "wangli", "/进度"],
    ):
        assert main(["--db", sqlite_url, *command]) == 2
        assert one_line(capsys.readouterr().err) == expected


def test_a_schema_older_than_the_code_asks_for_init(sqlite_url: str, capsys) -> None:
    set_revision(sqlite_url, "0001")
    assert main(["--db", sqlite_url, "outbox"]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"rentian: database: {sqlite_url}: schema revision 0001 is older than this Rentian "
        f"({head_revision()}); run `rentian init` to upgrade it"
    )


def test_known_revisions_agree_with_alembic() -> None:
    scripts = ScriptDirectory(str(MIGRATIONS))
    assert known_revisions() == {s.revision: s.down_revision for s in scripts.walk_revisions()}


# -- pipes and signals ---------------------------------------------------------------------


def test_a_reader_that_goes_away_ends_the_command_quietly(sqlite_url: str) -> None:
    assert main(["--db", sqlite_url, "engagement", "apply", str(DEMO_ENGAGEMENT)]) == 0
    process = rentian(
        "--db", sqlite_url, "say", "--chat", "demo-group", "--user", "sunwei", "/帮助", env={}
    )
    assert process.stdout is not None
    process.stdout.close()  # like `| head -0`: nobody reads; every write meets a broken pipe
    _, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (141, "")


def test_ctrl_c_ends_a_command_with_130_and_no_trace(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    def interrupted(_args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(ops, "tick", interrupted)
    assert main(["--db", sqlite_url, "tick"]) == 130
    assert capsys.readouterr().err == ""

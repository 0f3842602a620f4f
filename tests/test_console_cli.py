"""`rentian console-link` and `rentian api-token`: what an operator types for the web console."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from app.cli import main
from config.settings import DEMO_ENGAGEMENT
from storage.db import make_engine, transaction
from storage.models import ApiToken
from tests import console_web

LINK = re.compile(r"^http://127\.0\.0\.1:8080/signin/([A-Za-z0-9_-]{43})$")


def _apply(db_url: str) -> None:
    assert main(["--db", db_url, "engagement", "apply", str(DEMO_ENGAGEMENT)]) == 0


def test_console_link_prints_a_link_that_signs_that_person_in(runtime, db_url, capsys):
    _apply(db_url)
    capsys.readouterr()
    assert main(["--db", db_url, "console-link", "--user", "zhoumin"]) == 0
    found = LINK.match(capsys.readouterr().out.strip())
    assert found
    browser = console_web.client(runtime)
    answer = browser.post("/signin", data={"token": found.group(1)}, follow_redirects=False)
    assert answer.status_code == 303


def test_console_link_for_an_unknown_account_is_refused(db_url, capsys):
    _apply(db_url)
    assert main(["--db", db_url, "console-link", "--user", "nobody"]) == 1
    assert "no person has the console account 'nobody'" in capsys.readouterr().err


def test_the_link_uses_the_public_url(db_url, capsys, monkeypatch):
    _apply(db_url)
    monkeypatch.setenv("RENTIAN_CONSOLE__PUBLIC_URL", "https://rentian.vendor.example/")
    capsys.readouterr()
    assert main(["--db", db_url, "console-link", "--user", "sunwei"]) == 0
    assert capsys.readouterr().out.startswith("https://rentian.vendor.example/signin/")


def test_api_tokens_are_created_once_listed_and_revoked(db_url, capsys):
    _apply(db_url)
    capsys.readouterr()
    assert main(["--db", db_url, "api-token", "create", "--engagement", "DEMO-2026",
                 "--name", "BI 看板"]) == 0  # fmt: skip
    out = capsys.readouterr()
    token = out.out.strip()
    assert token.startswith("rt_") and "shown once" in out.err
    engine = make_engine(db_url)
    with transaction(engine) as session:
        [row] = session.execute(select(ApiToken)).scalars().all()
        assert row.token_hash != token and token not in json.dumps(row.model_dump(mode="json"))
    engine.dispose()
    assert main(["--db", db_url, "api-token", "list"]) == 0
    listing = capsys.readouterr().out
    assert "DEMO-2026" in listing and "BI 看板" in listing and "live" in listing
    assert token not in listing
    assert main(["--db", db_url, "api-token", "revoke", str(row.id)]) == 0
    assert main(["--db", db_url, "api-token", "revoke", str(row.id)]) == 1
    capsys.readouterr()
    assert main(["--db", db_url, "api-token", "list", "--engagement", "DEMO-2026"]) == 0
    assert "revoked" in capsys.readouterr().out


def test_api_token_needs_a_known_engagement_and_a_sane_name(db_url, capsys):
    _apply(db_url)
    assert main(["--db", db_url, "api-token", "create", "--engagement", "NOPE",
                 "--name", "x"]) == 1  # fmt: skip
    assert main(["--db", db_url, "api-token", "create", "--engagement", "DEMO-2026",
                 "--name", "x" * 81]) == 2  # fmt: skip
    assert "no engagement 'NOPE'" in capsys.readouterr().err

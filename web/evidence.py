"""Signatures and the evidence pack: `GET /e/{code}/signatures`, every signed record with who
signed it, when, through which message, whether its content still hashes to what was signed,
and the audit chain re-checked as the page loads; `GET /e/{code}/evidence.zip[?month=]`, the
pack to verify without trusting this server (`web.pack`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import IO

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlmodel import Session, col

from bot import clock
from bot.i18n import tr
from domain.catalog import ROLES
from storage.models import Engagement, Period
from web import pack
from web.auth import page_viewer, reading, seat_for
from web.render import locale_of, page
from web.views import signatures as views

router = APIRouter()

_CHUNK = 1 << 16


def _engagement(session: Session, engagement_id: int) -> Engagement:
    found = session.get(Engagement, engagement_id)
    if found is None:
        raise HTTPException(404, "no such engagement")
    return found


@router.get("/e/{code}/signatures", response_class=HTMLResponse)
def signatures_page(request: Request, code: str) -> Response:
    with reading(request) as session:
        viewer = page_viewer(session, request)
        seat = seat_for(viewer, code)
        engagement = _engagement(session, seat.engagement_id)
        locale = locale_of(request, seat.locale)
        records = views.checked(
            views.signed_records(session, engagement, months_rehashed=views.MONTHS_REHASHED)
        )
        chain = views.chain_check(session, seat.engagement_id)
        months = list(session.execute(
            select(col(Period.month)).where(col(Period.engagement_id) == seat.engagement_id,
                                            col(Period.status).in_(("closed", "locked")))
            .order_by(col(Period.month))
        ).scalars())  # fmt: skip
        timezone = engagement.timezone

    def local(moment: datetime) -> str:
        return clock.local(moment, timezone).strftime("%Y-%m-%d %H:%M")

    def local_iso(moment: str) -> str:
        return local(datetime.fromisoformat(moment)) if moment else "—"

    def role_name(role: str) -> str:
        return ROLES[role].name(locale) if role in ROLES else role

    return page(request, "signatures.html", locale, viewer=viewer, seat=seat, records=records,
                chain=chain, months=months, local=local, local_iso=local_iso,
                role_name=role_name, kind_name=lambda kind: views.kind_name(kind, locale),
                state_name=lambda state, kind="": views.state_name(state, locale, kind))  # fmt: skip


@router.get("/e/{code}/evidence.zip")
def evidence_zip(request: Request, code: str, month: str | None = None) -> Response:
    with reading(request) as session:
        viewer = page_viewer(session, request)
        seat = seat_for(viewer, code)
        engagement = _engagement(session, seat.engagement_id)
        if month is not None and not views.valid_month(month, engagement):
            raise HTTPException(400, tr(seat.locale, "month 应为本项目期间内的 YYYY-MM",
                                        "month must be YYYY-MM within the engagement's term"))  # fmt: skip
        built = pack.build(session, engagement, month)
    return StreamingResponse(
        _stream(built.file), media_type="application/zip",
        headers={"content-disposition": f'attachment; filename="{built.filename}"',
                 "content-length": str(built.size)},
    )  # fmt: skip


def _stream(file: IO[bytes]) -> Iterator[bytes]:
    try:
        while block := file.read(_CHUNK):
            yield block
    finally:
        file.close()

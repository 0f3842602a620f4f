"""The read API under /api/v1, with its OpenAPI schema at /api/openapi.json (docs/security.md,
"Web console"). GET only. Every call names its caller — an API token (`Authorization: Bearer
rt_…`, one engagement: `rentian api-token create`) or the console's session cookie — and sees
only the engagements they may: any other is 404, as if it did not exist.

Every parameter is bounded and checked before it reaches a query; whatever is wrong with a
request is a 4xx with a `Problem` body, never a 500. Lists are pages: `limit` (1-200) and an
opaque `cursor` from the previous page's `next_cursor`."""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyCookie, HTTPBearer
from pydantic import AfterValidator, AwareDatetime
from sqlmodel import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot import clock
from handlers import statement
from storage.models import Engagement
from web import api_queries as queries
from web.access import Viewer
from web.api_models import (
    Budget,
    EngagementPage,
    ObligationPage,
    ObligationState,
    Problem,
    ProblemDetail,
    Severity,
    SignaturePage,
    Sla,
    TicketPage,
    TicketStatus,
    WorkLogPage,
)
from web.api_models import Engagement as EngagementOut
from web.auth import SESSION_COOKIE, api_viewer, reading, seat_for

_KEY = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # a person's key, a target's or subject's ref
_MAX_KEY = 2**31 - 1  # ids and numbers are 32-bit integers in every database we run on
_ERROR_CODES = {401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 422: "invalid_request"}  # fmt: skip


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


_Responses = dict[int | str, dict[str, Any]]
_UNAUTHORIZED: _Responses = {
    401: _problem("no session and no token, or a token unknown or revoked")
}
_INVALID: _Responses = {422: _problem("a parameter is malformed or out of bounds")}
_NOT_FOUND: _Responses = {404: _problem("no such engagement, or not one the caller may see")}
_ERRORS: _Responses = {**_UNAUTHORIZED, **_NOT_FOUND, **_INVALID}


def _utc(moment: datetime) -> datetime:
    try:
        return clock.as_utc(moment)
    except OverflowError:
        raise ValueError("out of range once in UTC") from None


def _month(month: str) -> str:
    queries.month_window(month, "UTC")  # ValueError when it is not one
    return month


Code = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,39}$",
                           description="the engagement's code, e.g. `DEMO-2026`")]  # fmt: skip
Limit = Annotated[int, Query(ge=1, le=200, description="items per page")]
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_-]+$",
                                     description="the previous page's `next_cursor`")]  # fmt: skip
PersonKey = Annotated[str | None, Query(max_length=64, pattern=_KEY)]
Moment = Annotated[AwareDatetime | None, AfterValidator(lambda m: m if m is None else _utc(m)),
                   Query(description="ISO-8601 with an offset")]  # fmt: skip
Month = Annotated[str | None, AfterValidator(lambda m: m if m is None else _month(m)),
                  Query(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="`YYYY-MM`")]  # fmt: skip

_bearer = HTTPBearer(auto_error=False, bearerFormat="rt_…",
                     description="an API token: `rentian api-token create`")  # fmt: skip
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                       description="the console's session (signed in through a link)")  # fmt: skip


def caller(
    request: Request,
    _token: Annotated[Any, Security(_bearer)] = None,
    _session: Annotated[Any, Security(_cookie)] = None,
) -> Viewer:
    """Who asks, before anything else is looked at. Its own transaction, committed: a token's
    last use is noted even when the call then fails."""
    with reading(request) as session:
        return api_viewer(session, request)


Caller = Annotated[Viewer, Depends(caller)]
router = APIRouter(prefix="/v1", tags=["read"])


@router.get("/engagements", response_model=EngagementPage,
            responses={**_UNAUTHORIZED, **_INVALID})  # fmt: skip
def list_engagements(request: Request, who: Caller, limit: Limit = 50,
                     cursor: Cursor = None) -> EngagementPage:  # fmt: skip
    """The engagements the caller sees, by code."""
    after = _decode(cursor, "e") if cursor else ""
    seats = [seat for seat in who.seats if seat.code > after]
    with reading(request) as session:
        items = [queries.engagement(session, _engagement(session, seat.engagement_id))
                 for seat in seats[:limit]]  # fmt: skip
    more = len(seats) > limit
    return EngagementPage(items=items, next_cursor=_encode("e", items[-1].code) if more else None)


@router.get("/engagements/{code}", response_model=EngagementOut, responses=_ERRORS)
def get_engagement(request: Request, who: Caller, code: Code) -> EngagementOut:
    """One engagement: its term, phase and person-days."""
    seat = seat_for(who, code)
    with reading(request) as session:
        return queries.engagement(session, _engagement(session, seat.engagement_id))


@router.get("/engagements/{code}/tickets", response_model=TicketPage, responses=_ERRORS)
def list_tickets(
    request: Request,
    who: Caller,
    code: Code,
    limit: Limit = 50,
    cursor: Cursor = None,
    severity: Severity | None = None,
    status: TicketStatus | None = None,
    breached: Annotated[bool | None, Query(description="missed a target on either leg")] = None,
    assignee: PersonKey = None,
    opened_after: Moment = None,
    opened_before: Moment = None,
) -> TicketPage:
    """The engagement's tickets by number. `opened_after` is inclusive, `opened_before`
    exclusive."""
    seat = seat_for(who, code)
    window = queries.Window(_decode_key(cursor, "t"), limit)
    wanted = queries.TicketFilter(severity, status, breached, assignee, opened_after, opened_before)
    with reading(request) as session:
        row = _engagement(session, seat.engagement_id)
        items, last = queries.tickets(session, row, wanted, window)
    return TicketPage(items=items, next_cursor=_next(last, "t"))


@router.get("/engagements/{code}/worklogs", response_model=WorkLogPage, responses=_ERRORS)
def list_worklogs(
    request: Request,
    who: Caller,
    code: Code,
    limit: Limit = 50,
    cursor: Cursor = None,
    person: PersonKey = None,
    month: Month = None,
    since: Annotated[date | None, Query(alias="from", description="first day, inclusive")] = None,
    until: Annotated[date | None, Query(alias="to", description="last day, inclusive")] = None,
    target: Annotated[str | None, Query(max_length=64, pattern=_KEY,
                                        description="`T-7`, `K-3`, `CR-2` or a service key")] = None,
) -> WorkLogPage:  # fmt: skip
    """The engagement's work-log rows by id, voided ones included (and marked). A month, or a
    span of dates (`from`, `to`), not both."""
    seat = seat_for(who, code)
    if month is not None:
        if since is not None or until is not None:
            raise _invalid("query.month", "give month, or from/to, not both")
        first, last = statement.month_bounds(month)
        since, until = first, last
    if since is not None and until is not None and since > until:
        raise _invalid("query.from", "from is after to")
    window = queries.Window(_decode_key(cursor, "w"), limit)
    wanted = queries.WorkLogFilter(person, since, until, target)
    with reading(request) as session:
        row = _engagement(session, seat.engagement_id)
        items, next_key = queries.worklogs(session, row, wanted, window)
    return WorkLogPage(items=items, next_cursor=_next(next_key, "w"))


@router.get("/engagements/{code}/signatures", response_model=SignaturePage, responses=_ERRORS)
def list_signatures(
    request: Request,
    who: Caller,
    code: Code,
    limit: Limit = 50,
    cursor: Cursor = None,
    subject: Annotated[str | None, Query(max_length=64, pattern=_KEY,
                                         description="`scope`, `CR-2`, `D-4`, `2026-11`")] = None,
) -> SignaturePage:  # fmt: skip
    """The engagement's signatures by id: who signed what, as it stood (its content hash);
    the voided ones too, marked."""
    seat = seat_for(who, code)
    window = queries.Window(_decode_key(cursor, "s"), limit)
    with reading(request) as session:
        row = _engagement(session, seat.engagement_id)
        items, next_key = queries.signatures(session, row, subject, window)
    return SignaturePage(items=items, next_cursor=_next(next_key, "s"))


@router.get("/engagements/{code}/obligations", response_model=ObligationPage, responses=_ERRORS)
def list_obligations(
    request: Request,
    who: Caller,
    code: Code,
    limit: Limit = 50,
    cursor: Cursor = None,
    state: ObligationState | None = None,
    key: Annotated[str | None, Query(max_length=40, pattern=_KEY,
                                     description="the obligation's key in the engagement file")] = None,
    since: Annotated[date | None, Query(alias="from", description="due on or after")] = None,
    until: Annotated[date | None, Query(alias="to", description="due on or before")] = None,
) -> ObligationPage:  # fmt: skip
    """The engagement's recurring obligations, one item per occurrence (O-n) by number: its
    due date, state, evidence and who recorded and acknowledged it; for an upgrade window, its
    time and the signatures on its plan."""
    seat = seat_for(who, code)
    if since is not None and until is not None and since > until:
        raise _invalid("query.from", "from is after to")
    window = queries.Window(_decode_key(cursor, "o"), limit)
    wanted = queries.ObligationFilter(state, key, since, until)
    with reading(request) as session:
        row = _engagement(session, seat.engagement_id)
        items, next_key = queries.obligations(session, row, wanted, window)
    return ObligationPage(items=items, next_cursor=_next(next_key, "o"))


@router.get("/engagements/{code}/budget", response_model=Budget, responses=_ERRORS)
def get_budget(request: Request, who: Caller, code: Code) -> Budget:
    """Person-days by level — contracted (the SOW's and effective change requests'), used,
    left — and the burn over the last working days with the date the budget runs out."""
    seat = seat_for(who, code)
    with reading(request) as session:
        return queries.budget_view(session, _engagement(session, seat.engagement_id))


@router.get("/engagements/{code}/sla", response_model=Sla, responses=_ERRORS)
def get_sla(request: Request, who: Caller, code: Code, month: Month = None) -> Sla:
    """SLA attainment of the tickets opened in a month (default: this month), by severity:
    of the clocks with an outcome, how many met their target."""
    seat = seat_for(who, code)
    with reading(request) as session:
        row = _engagement(session, seat.engagement_id)
        wanted = month or f"{clock.local(clock.now(), row.timezone):%Y-%m}"
        return queries.sla_view(session, row, wanted)


def build(runtime: Any) -> FastAPI:
    api = FastAPI(title="Rentian read API", version="1", openapi_url="/openapi.json",
                  docs_url=None, redoc_url=None,
                  description=__doc__.split("\n\n", 1)[1] if __doc__ else "")  # fmt: skip
    api.state.runtime = runtime
    api.include_router(router)
    api.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    api.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    return api


# -- cursors, errors --------------------------------------------------------------------------


def _encode(kind: str, value: str | int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).rstrip(b"=").decode()


def _decode(cursor: str, kind: str) -> str:
    """What `_encode(kind, …)` wrapped; 422 for anything else (another list's cursor too)."""
    try:
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_",
                                validate=True).decode()  # fmt: skip
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _invalid("query.cursor", "not a cursor of this list") from None
    prefix, _, value = text.partition(":")
    if prefix != kind or not value:
        raise _invalid("query.cursor", "not a cursor of this list")
    return value


def _decode_key(cursor: str | None, kind: str) -> int:
    if cursor is None:
        return 0
    value = _decode(cursor, kind)
    if not value.isascii() or not value.isdigit() or not 0 < int(value) <= _MAX_KEY:
        raise _invalid("query.cursor", "not a cursor of this list")
    return int(value)


def _next(key: int | None, kind: str) -> str | None:
    return None if key is None else _encode(kind, key)


def _engagement(session: Session, engagement_id: int) -> Engagement:
    row = session.get(Engagement, engagement_id)
    if row is None:  # deleted since the caller was read
        raise HTTPException(404, "no such engagement")
    return row


def _invalid(parameter: str, message: str) -> HTTPException:
    return HTTPException(422, [ProblemDetail(parameter=parameter, message=message)])


def _http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
    details: list[ProblemDetail] = []
    message = str(error.detail)
    if isinstance(error.detail, list):
        details = error.detail
        message = "; ".join(f"{d.parameter}: {d.message}" for d in details)
    problem = Problem(error=_ERROR_CODES.get(error.status_code, "error"), message=message,
                      details=details)  # fmt: skip
    return JSONResponse(problem.model_dump(), error.status_code, headers=error.headers)


def _validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
    details = [
        ProblemDetail(
            parameter=".".join(str(part) for part in e.get("loc", ())),
            message=str(e.get("msg", "invalid")),
        )
        for e in error.errors()
    ]
    problem = Problem(error="invalid_request", details=details,
                      message="; ".join(f"{d.parameter}: {d.message}" for d in details))  # fmt: skip
    return JSONResponse(problem.model_dump(), 422)

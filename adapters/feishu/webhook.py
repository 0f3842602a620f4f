"""`POST /webhooks/feishu`: callbacks verified by the SDK, then what the SDK lacks.

The SDK's `EventDispatcherHandler` decrypts, checks the token and the signature and answers the
URL-verification challenge; we add a 5-minute window on the signed timestamp (the inbox and
the bus dedupe on `header.event_id`) and answer its failures with the 4xx they are (it says
500 to all). A message is answered once the inbox holds it. A card button click runs the
command the button carries, as the person who clicked, at once: the answer is the outcome (a
toast, and the card updated).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import lark_oapi as lark
from lark_oapi.api.im.v1 import P2ImMessageReceiveV1
from lark_oapi.core.model import RawRequest
from lark_oapi.event.callback.model.p2_card_action_trigger import (
    P2CardActionTrigger,
    P2CardActionTriggerResponse,
)

from adapters.bridge import LoopBridge
from adapters.feishu.parse import parse, parse_card_action
from adapters.feishu.render import answer_card
from adapters.plumbing import MAX_CLOCK_SKEW, Answer, fresh, hand_over, was_refused
from bot import clock

if TYPE_CHECKING:
    from bot.channels import Inlet
    from bot.outcome import Outcome
    from config.settings import FeishuSettings

PATH = "/webhooks/feishu"
HANDLE_TIMEOUT_SECONDS = 30.0  # for the inbox or the bus, from SDK threads; then Feishu redelivers
# What the SDK's failures say when the sender is not Feishu with our keys: a bad signature or
# token, missing signature headers (a TypeError on None), or a body our key cannot decrypt.
_NOT_AUTHENTIC = ("signature", "token", "encrypt", "nonetype", "padding", "ciphertext", "codec")

log = logging.getLogger("rentian.feishu")


class WebhookReceiver:
    """Verifies a callback with the SDK, then checks freshness and hands the message on."""

    def __init__(self, settings: FeishuSettings, bot_names: frozenset[str]) -> None:
        self.settings = settings
        self.bot_names = bot_names

    async def receive(self, headers: dict[str, str], body: bytes, inlet: Inlet) -> Answer:
        try:
            if not isinstance(json.loads(body), dict):
                raise ValueError("not a JSON object")
        except ValueError as error:
            log.warning("feishu callback: malformed body: %s", error)
            return _answer(400, "malformed body")
        headers = {_title_case(name): value for name, value in headers.items()}
        if not self._fresh(headers.get("X-Lark-Request-Timestamp")):
            log.warning("feishu callback: stale timestamp; rejected")
            return _answer(401, "stale timestamp")
        events: list[P2ImMessageReceiveV1] = []
        failures: list[Exception] = []
        bridge = LoopBridge(inlet.handle, asyncio.get_running_loop())

        def on_click(trigger: P2CardActionTrigger) -> P2CardActionTriggerResponse:
            try:
                return self._card_action(trigger, bridge)
            except Exception as error:  # ours, not a rejection: answer 500 so Feishu retries
                log.exception("feishu card action failed")
                failures.append(error)
                raise

        response = await asyncio.to_thread(self._verify, headers, body, events, on_click)
        if failures:
            return _answer(500, "internal error")
        if response.status_code != 200:
            return _rejected(response.content or b"")
        if not events:  # the challenge, a card click answered in `on_click`, or ignored
            return Answer(200, response.content or b"{}")
        payload = json.loads(lark.JSON.marshal(events[0]) or "{}")
        inbound = parse(payload, now=clock.now(), bot_names=self.bot_names)
        if inbound is not None:
            await hand_over(inlet.accept, inbound, log, "feishu callback")
        return _answer(200, "success")

    def _verify(
        self,
        headers: dict[str, str],
        body: bytes,
        events: list[P2ImMessageReceiveV1],
        on_click: Callable[[P2CardActionTrigger], P2CardActionTriggerResponse],
    ) -> lark.RawResponse:
        """Run the SDK's checks (synchronous); a verified message event lands in `events`, a
        verified card click runs `on_click` (whose answer is the HTTP answer)."""
        handler = (
            lark.EventDispatcherHandler.builder(
                self.settings.encrypt_key, self.settings.verification_token
            )
            .register_p2_im_message_receive_v1(events.append)
            .register_p2_card_action_trigger(on_click)
            .build()
        )
        request = RawRequest()
        request.uri, request.headers, request.body = PATH, headers, body
        return handler.do(request)

    def _card_action(
        self, trigger: P2CardActionTrigger, bridge: LoopBridge[Outcome]
    ) -> P2CardActionTriggerResponse:
        """In the SDK's thread: run the button's command as the person who clicked, on the main
        loop, and answer with the card updated to say who did it — or, refused, with the reason
        alone, leaving the card and its buttons to the person they are for.

        Through the bus at once, not the inbox: Feishu shows this answer where the person
        clicked, so it must carry the outcome. Clicks are few (one per decision), and the
        bus's own dedupe keeps a redelivered click to one effect. A click may thereby pass
        messages of its chat still waiting in the inbox: it acts on a card already shown."""
        payload = json.loads(lark.JSON.marshal(trigger) or "{}")
        inbound = parse_card_action(payload, now=clock.now())
        if inbound is None:
            return P2CardActionTriggerResponse({"toast": {"type": "error", "content": "?"}})
        outcome = bridge.wait(inbound, HANDLE_TIMEOUT_SECONDS)
        if outcome.duplicate:
            return P2CardActionTriggerResponse({"toast": {"type": "info", "content": "OK"}})
        texts = [reply.text for reply in outcome.replies]
        if was_refused(outcome):  # the card stays as it was: its buttons are someone else's
            return P2CardActionTriggerResponse(
                {"toast": {"type": "error", "content": texts[0] if texts else "?"}}
            )
        value = payload["event"]["action"]["value"]
        return P2CardActionTriggerResponse({
            "toast": {"type": "success", "content": texts[0] if texts else "OK"},
            "card": {"type": "raw", "data": answer_card(value, inbound.sender_id, texts)},
        })  # fmt: skip

    def _fresh(self, timestamp: str | None) -> bool:
        if not self.settings.encrypt_key or timestamp is None:
            return True  # unsigned mode proves nothing; a missing header fails the signature
        return fresh(timestamp, MAX_CLOCK_SKEW, now=clock.now())


def _title_case(name: str) -> str:
    """`x-lark-signature` -> `X-Lark-Signature`: the SDK looks headers up case-sensitively."""
    return "-".join(part.capitalize() for part in name.split("-"))


def _rejected(content: bytes) -> Answer:
    """The SDK answers every failure with 500: say which 4xx it was."""
    try:
        reason = str(json.loads(content).get("msg", ""))
    except (ValueError, AttributeError):
        reason = content.decode(errors="replace")
    if "processor not found" in reason:
        return _answer(200, "ignored")  # authentic, but an event type we do not subscribe to
    forged = any(word in reason.lower() for word in _NOT_AUTHENTIC)
    log.warning("feishu callback rejected: %s", reason)
    return _answer(401, "unauthorized") if forged else _answer(400, "bad request")


def _answer(status: int, msg: str) -> Answer:
    return Answer.of_json(status, {"msg": msg})


class _DropHandledRejections(logging.Filter):
    """The SDK logs every rejected callback with a traceback; we log one line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("handle event failed")


def tame_sdk_logger() -> None:
    """The SDK prints to stdout with a handler of its own: send its records through ours."""
    from lark_oapi.core.log import handler as sdk_stdout

    sdk = logging.getLogger("Lark")
    sdk.removeHandler(sdk_stdout)
    if not any(isinstance(f, _DropHandledRejections) for f in sdk.filters):
        sdk.addFilter(_DropHandledRejections())

"""`GET`/`POST /webhooks/wecom`: the app's callback, verified and decrypted by wechatpy.

`GET` answers WeCom's URL verification (the decrypted `echostr`); `POST` takes the encrypted XML
of a message to the app. wechatpy's `WeChatCrypto` checks the signature, decrypts and checks
the corp id; we add a 5-minute window on the signed `timestamp`; the inbox and the bus dedupe
on `MsgId`. WeCom waits 5 s for an answer and retries otherwise, so the body is an empty 200
as soon as the inbox holds the message; the inbox workers handle it afterwards. (A card click
arrives the same way and is answered the same way: WeCom shows nothing of the answer.)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

from adapters.plumbing import MAX_CLOCK_SKEW, Answer, fresh, hand_over
from adapters.wecom.parse import parse
from bot import clock

if TYPE_CHECKING:
    from bot.channels import Inlet
    from config.settings import WecomSettings

PATH = "/webhooks/wecom"

log = logging.getLogger("rentian.wecom")


class CallbackReceiver:
    """Verifies and decrypts callbacks with wechatpy, then checks freshness."""

    def __init__(self, settings: WecomSettings) -> None:
        self.crypto = WeChatCrypto(settings.token, settings.encoding_aes_key, settings.corp_id)

    def verify_url(self, query: dict[str, str]) -> Answer:
        """WeCom's URL check: the decrypted `echostr` proves we hold the keys."""
        try:
            echo = self.crypto.check_signature(
                query["msg_signature"], query["timestamp"], query["nonce"], query["echostr"]
            )
        except KeyError:
            return Answer.of_text(400, "missing parameters")
        except (InvalidSignatureException, InvalidCorpIdException) as error:
            log.warning("wecom url verification refused: %s", type(error).__name__)
            return Answer.of_text(401, "unauthorized")
        except Exception as error:  # undecryptable echostr
            log.warning("wecom url verification: bad echostr: %s", error)
            return Answer.of_text(400, "bad request")
        return Answer.of_text(200, echo.decode() if isinstance(echo, bytes) else str(echo))

    async def receive(self, query: dict[str, str], body: bytes, inlet: Inlet) -> Answer:
        try:
            signature, timestamp, nonce = query["msg_signature"], query["timestamp"], query["nonce"]
        except KeyError:
            return Answer.of_text(400, "missing parameters")
        try:
            xml = self.crypto.decrypt_message(body, signature, timestamp, nonce)
        except (InvalidSignatureException, InvalidCorpIdException) as error:
            log.warning("wecom callback refused: %s", type(error).__name__)
            return Answer.of_text(401, "unauthorized")
        except Exception as error:  # malformed XML, no Encrypt element, bad ciphertext
            log.warning("wecom callback: malformed body: %s", error)
            return Answer.of_text(400, "bad request")
        if not fresh(timestamp, MAX_CLOCK_SKEW, now=clock.now()):
            log.warning("wecom callback: stale timestamp %s; refused", timestamp)
            return Answer.of_text(401, "stale timestamp")
        inbound = parse(xml if isinstance(xml, str) else xml.decode(), now=clock.now())
        if inbound is not None:
            await hand_over(inlet.accept, inbound, log, "wecom callback")
        return Answer.of_text(200, "")

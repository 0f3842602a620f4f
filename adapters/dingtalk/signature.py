"""DingTalk's signature of an HTTP callback (and of custom robot webhooks): pure.

The headers `timestamp` (ms) and `sign` = base64(HMAC-SHA256(key=client_secret,
msg=f"{timestamp}\\n{client_secret}")), compared in constant time; the timestamp must lie
within a window of now, either way. The signature does not cover the body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from adapters.plumbing import fresh


def sign(timestamp: str, secret: str) -> str:
    """DingTalk's signature of a callback (and of custom robot webhooks)."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def verify(timestamp: str, signature: str, secret: str, now: datetime, window: timedelta) -> str:
    """Why the callback is refused ("missing", "forged", "stale"); empty if it is fine."""
    if not timestamp or not signature:
        return "missing"
    if not hmac.compare_digest(sign(timestamp, secret).encode(), signature.encode()):
        return "forged"
    return "" if fresh(timestamp, window, now=now, per_second=1000) else "stale"

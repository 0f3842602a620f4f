"""Who may look at an engagement in the web console: the people who decide.

A client person sees their own engagement; on the vendor's side, the PM, the customer
manager and the delivery director see the engagements where they hold that role. Engineers
log and answer in the chat; the console is not theirs (a vendor person with none of these
roles sees nothing)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

VENDOR_VIEWERS: Final = frozenset({"vendor_pm", "customer_manager", "director"})


def sees_engagement(party: str | None, roles: Iterable[str], active: bool = True) -> bool:
    """Whether a person of an engagement (their party and roles there) may see it."""
    if not active:
        return False
    return party == "client" or not VENDOR_VIEWERS.isdisjoint(roles)

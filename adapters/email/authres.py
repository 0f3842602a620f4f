"""Whether the sender's domain vouched for a mail, by the Authentication-Results (RFC 8601) our
own MTA wrote: pure, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from adapters.email.mail import Mail


@dataclass(frozen=True)
class AuthResult:
    """One method's verdict in an Authentication-Results header (RFC 8601 §2.2): `method` and
    `result` in lowercase, `properties` by lowercase `ptype.property` (`header.from`)."""

    method: str
    result: str
    properties: dict[str, str] = field(default_factory=dict)
    reason: str = ""


def authentication_results(value: str) -> tuple[str, list[AuthResult]]:
    """The authserv-id (lowercase) and the results of one Authentication-Results value.
    Comments, folding and case do not matter; what cannot be read is left out, never raised."""
    head, *resinfo = _segments(value)
    words = head.split()
    if not words or "=" in words[0]:
        return "", []
    results: list[AuthResult] = []
    for segment in resinfo:
        pairs = [(key.lower(), _unquote(v)) for key, v in _PAIR.findall(_tight(segment))]
        if not pairs or "." in pairs[0][0]:
            continue  # "none" (no results), or no method
        (method, result), *others = pairs
        results.append(AuthResult(
            method.partition("/")[0], result.lower(), {k: v for k, v in others if "." in k},
            next((v for k, v in others if k == "reason"), ""),
        ))  # fmt: skip
    return _unquote(words[0]).lower(), results


def vouched_by(mail: Mail, authserv_id: str) -> str:
    """How the sender's domain vouched for `mail` — "dmarc", "dkim" or "spf" — by what our own
    MTA recorded (Authentication-Results of `authserv_id`; anyone else's are the sender's word);
    "" when nothing did. DMARC decides when it was evaluated; without a DMARC policy (none), a
    DKIM or SPF pass for an aligned domain (the From domain, a parent or a subdomain of it)
    vouches. A pass counts only if no trusted header says otherwise about the same domain."""
    trusted = authserv_id.strip().lower()
    verdicts: dict[tuple[str, str], set[str]] = {}
    for value in mail.authentication_results if trusted else ():
        server, results = authentication_results(value)
        for result in results if server == trusted else ():
            about = _about(result)
            if about:
                verdicts.setdefault((result.method, about), set()).add(result.result)
    domain = mail.sender.rpartition("@")[2]
    dmarc = verdicts.get(("dmarc", domain), set())
    if dmarc == {"pass"}:
        return "dmarc"
    if dmarc - {"none"}:
        return ""  # failed, or could not be evaluated: an aligned pass does not overrule that
    for (method, about), said in sorted(verdicts.items()):
        if method in ("dkim", "spf") and said == {"pass"} and _aligned(about, domain):
            return method
    return ""


# -- Authentication-Results: the grammar's pieces (RFC 8601 §2.2) ------------------------------

_PAIR = re.compile(r'([^\s=";]+)=("(?:[^"\\]|\\.)*"?|[^\s"]*)')  # key=value, value maybe quoted
_ABOUT = {"dmarc": ("header.from",), "spf": ("smtp.mailfrom",), "dkim": ("header.d", "header.i")}


def _segments(value: str) -> list[str]:
    """`value` cut at each `;`, without comments (nested parentheses) and with folding undone;
    quoted strings and escaped characters stay whole."""
    segments: list[str] = []
    current: list[str] = []
    depth, quoted, escaped = 0, False, False
    for char in value:
        if escaped:
            escaped = False
            if not depth:
                current.append(char)
        elif char == "\\" and (depth or quoted):
            escaped = True
            if quoted:
                current.append(char)
        elif quoted:
            current.append(char)
            quoted = char != '"'
        elif char == "(":
            depth += 1
            current.append(" ")
        elif char == ")" and depth:
            depth -= 1
        elif depth:
            continue
        elif char == ";":
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
            quoted = char == '"'
    segments.append("".join(current))
    return [" ".join(segment.split()) for segment in segments]


def _tight(segment: str) -> str:
    """`dmarc = pass header . from = x` -> `dmarc=pass header.from=x` (CFWS is allowed there)."""
    return re.sub(r"\s*([=./])\s*", r"\1", segment)


def _unquote(value: str) -> str:
    if not value.startswith('"'):
        return value
    return re.sub(r"\\(.)", r"\1", value[1:].removesuffix('"'))


def _about(result: AuthResult) -> str:
    """The domain a result is about: DMARC's From, SPF's MAIL FROM, DKIM's signing domain."""
    for key in _ABOUT.get(result.method, ()):
        value = result.properties.get(key, "")
        if value:
            return value.rpartition("@")[2].strip().lower().rstrip(".")
    return ""


def _aligned(domain: str, sender_domain: str) -> bool:
    """Relaxed alignment, kept simple: the same domain, or one a subdomain of the other (never
    a bare top-level domain)."""
    ours, theirs = f".{domain}", f".{sender_domain}"
    return "." in domain and (ours.endswith(theirs) or theirs.endswith(ours))

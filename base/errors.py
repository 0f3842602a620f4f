"""The project's one exception tree.

    RentianError
    ├── UserError                 a person's mistake; the bus answers it in one line
    │   ├── UsageError            bad command or arguments      -> kind error.usage
    │   ├── PermissionDenied      not allowed for this person    -> kind error.permission
    │   ├── NotFound              no such ticket, task, item…    -> kind error.not_found
    │   └── InvalidState          not possible in this state     -> kind error.state
    ├── ConfigError               an engagement or settings file is invalid (names field and problem)
    ├── StorageError              the database cannot be used: bad URL, unreachable, unknown schema
    └── AdapterError              a channel could not deliver or receive
        ├── NetworkError          the platform could not be reached (retried)
        ├── PlatformRefused       the platform answered with an error (retried if `retryable`)
        └── ReplyExpired          a reply handle is no longer valid (send proactively instead)

User errors carry the reply text, already in the person's language.
"""

from __future__ import annotations


class RentianError(Exception):
    """Root of every error this project raises on purpose."""


class UserError(RentianError):
    """A mistake by the person who wrote to the bot; `str(error)` is the one-line answer."""

    kind = "error.usage"

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class UsageError(UserError):
    kind = "error.usage"


class PermissionDenied(UserError):
    kind = "error.permission"


class NotFound(UserError):
    kind = "error.not_found"


class InvalidState(UserError):
    kind = "error.state"


class ConfigError(RentianError):
    """An engagement file or setting is invalid; `problems` lists `field: problem` lines."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = problems
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + "; ".join(problems))


class StorageError(RentianError):
    """The database cannot be used as it is; `str(error)` says why and what to do, in one line
    (a URL in it has its password hidden)."""


class AdapterError(RentianError):
    """A channel failed; `retryable` tells the dispatcher whether to try again later."""

    retryable = True


class NetworkError(AdapterError):
    retryable = True


class PlatformRefused(AdapterError):
    def __init__(self, message: str, *, retryable: bool = False, code: str = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


class ReplyExpired(AdapterError):
    retryable = True

"""A module `tests/test_commands.py` imports only through `bot.commands.lazy`."""

NOT_A_FUNCTION = 42


def answer(a: int, b: int) -> int:
    return a + b

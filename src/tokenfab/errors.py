"""Errors meant for people: the CLI prints them without a traceback and exits with code 2."""

import reprlib


class InputError(Exception):
    """Bad or infeasible input. `field` is a dotted path into the intent (or file) when known."""

    def __init__(self, message: str, field: str | None = None):
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class InfeasibleError(InputError):
    """The intent is well-formed but cannot be built; the message carries the numbers."""


class DeprecatedKeyWarning(FutureWarning):
    """A key of a user's file that still loads under an old name; the CLI prints it as a note
    (FutureWarning: Python shows it to end users by default, once per message)."""


_REPR = reprlib.Repr()
for _name, _n in dict(maxlevel=3, maxdict=6, maxlist=6, maxtuple=6, maxset=6, maxstring=60, maxlong=40, maxother=60).items():
    setattr(_REPR, _name, _n)


def excerpt(value: object, limit: int = 80) -> str:
    """A value as people read it in a message, cut to `limit` characters: an error never echoes a
    whole file or an expanded alias bomb (reprlib stops walking nested values early)."""
    return shorten(str(value) if isinstance(value, BaseException) else _REPR.repr(value), limit)


def shorten(text: str, limit: int = 200) -> str:
    """Message text on one line, at most `limit` characters."""
    text = " ".join(text[: 4 * limit].split())
    return text if len(text) <= limit else f"{text[: limit - 4]} ..."

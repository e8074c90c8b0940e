"""Errors meant for people: the CLI prints them without a traceback and exits with code 2."""


class InputError(Exception):
    """Bad or infeasible input. `field` is a dotted path into the intent (or file) when known."""

    def __init__(self, message: str, field: str | None = None):
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class InfeasibleError(InputError):
    """The intent is well-formed but cannot be built; the message carries the numbers."""

"""Pure rules of an IOU: money, capital numerals, identities, dates, LPR, plans.

Nothing here does I/O except :mod:`.lpr` reading its table file. Every refusal is a
:class:`DomainError` carrying a machine ``code`` (English snake_case) and a Chinese
``message`` that can be shown to the person who typed the value.
"""


class DomainError(ValueError):
    """A value breaks a business rule: ``code`` for machines, ``message`` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

"""The rules. Plain functions with explicit arguments: no `request`, no blueprint imports.

Services flush and never commit; the caller (a view, a job, a CLI command) commits once.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import LazyString


class ServiceError(Exception):
    """A refusal with every reason that applies, each in the user's language."""

    def __init__(self, messages: str | LazyString | Iterable[str | LazyString]):
        if isinstance(messages, (str, LazyString)):
            messages = [messages]
        self.messages = [str(message) for message in messages]
        super().__init__("; ".join(self.messages))

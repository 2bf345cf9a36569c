"""Failures a person can act on, with their text in Spanish and English taken from a catalog.

The store and the sync client raise errors that carry a code and parameters rather than a sentence, so the desktop
app, the CLI and the logs can each show the same failure in the clinic's language. Each package keeps its own
catalog; this module is the mechanism they share.
"""

from __future__ import annotations

from typing import Any, ClassVar

Catalog = dict[str, dict[str, str]]


def render(catalog: Catalog, code: str, lang: str = "es", /, **params: Any) -> str:
    """The message `code` of `catalog` in `lang` (Spanish when missing), with its placeholders filled."""
    entry = catalog[code]
    return entry.get(lang, entry["es"]).format(**params)


class LocalisedError(Exception):
    """An error whose `code` is a key of the subclass's `MESSAGES`; str() is the English text, for logs.

    `USER_FIXABLE` lists the codes a person fixes by typing something else (a field, an option, a file): the CLIs
    exit 2 for them and 1 for the rest, and the screens show them beside the input rather than as a failure.
    """

    MESSAGES: ClassVar[Catalog] = {}
    KIND: ClassVar[str] = "error"
    USER_FIXABLE: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, code: str, /, **params: Any) -> None:
        if code not in self.MESSAGES:
            raise KeyError(f"no message for {self.KIND} {code!r}")
        self.code = code
        self.params = params
        super().__init__(self.message("en"))

    @property
    def user_fixable(self) -> bool:
        return self.code in self.USER_FIXABLE

    def message(self, lang: str = "es") -> str:
        return render(self.MESSAGES, self.code, lang, **self.params)

    def to_json(self, lang: str = "es") -> dict[str, Any]:
        return {"error": {"code": self.code, "field": self.params.get("field"), "message": self.message(lang)}}

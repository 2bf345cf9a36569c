"""The browser page says when a rare disease's name is in English (issue 18, point 4): Orphanet's names reach the
service in English only, since no Spanish list of them ships through the package registries this project uses. On the
Spanish page each name carries "[nombre en inglés]"; on the English page it does not. Debian's headless Chromium
against a real `vereda-server serve`, as in test_web_browser.py."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.server.browser import enter_case, log_in
from tests.server.helpers import CASE4, Server
from tests.server.test_web_browser import diagnose  # the server, Chromium and page fixtures: conftest.py

pytestmark = pytest.mark.slow


def test_rare_disease_names_say_they_are_in_english_on_the_spanish_page(page: Any, site: Server) -> None:
    log_in(page, site.url)
    enter_case(page, CASE4)
    diagnose(page)
    items = page.locator("#rare li")
    assert items.count() >= 1
    spanish = [items.nth(i).inner_text() for i in range(items.count())]
    assert all(re.search(r"\[nombre en inglés\] \(ORPHA:\d+\)", text) for text in spanish), spanish
    page.click(".lang-switch a[data-lang=en]")
    page.locator("html[lang=en]").wait_for(state="attached")
    english = [items.nth(i).inner_text() for i in range(items.count())]
    assert english and not any("[" in text.split("(ORPHA:")[0] for text in english), english
    page.click(".lang-switch a[data-lang=es]")
    page.locator("html[lang=es]").wait_for(state="attached")

"""The web chat pages without a browser: what the gateway serves at / and /12355, that they load nothing from
another host, and that the hotline numbers written into them are the ones in hotline/data/hotlines.yml."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import Stack

STATIC = Path(__file__).resolve().parents[2] / "bot" / "static"
HOTLINES = Path(__file__).resolve().parents[2] / "hotline" / "data" / "hotlines.yml"
PAGES = {"/": "index.html", "/12355": "12355.html"}
# The page's <body data-…> attribute for each hotlines.yml key; chat.js takes the numbers from there.
NUMBER_ATTRIBUTES = {"police": "data-police", "youth": "data-youth", "legal_service": "data-legal-service"}


def hotline_numbers() -> dict[str, str]:
    data = yaml.safe_load(HOTLINES.read_text(encoding="utf-8"))
    return {key: str(entry["number"]) for key, entry in data.items()}


class Page(HTMLParser):
    """The parts of a page these tests read: body attributes, tel: links, visible text, every URL attribute."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.body: dict[str, str] = {}
        self.tel: list[str] = []
        self.urls: list[str] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "body":
            self.body = values
        for name in ("href", "src", "action", "srcset", "poster", "data"):
            if name in values:
                self.urls.append(values[name])
        if values.get("href", "").startswith("tel:"):
            self.tel.append(values["href"].removeprefix("tel:"))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize("name", sorted(PAGES.values()))
def test_the_numbers_on_the_page_are_the_ones_in_hotlines_yml(name: str) -> None:
    numbers = hotline_numbers()
    page = Page((STATIC / name).read_text(encoding="utf-8"))
    for key, attribute in NUMBER_ATTRIBUTES.items():
        assert page.body[attribute] == numbers[key], f"{name}: {attribute} is not hotlines.yml's {key}"
    assert page.tel and set(page.tel) <= set(numbers.values()), f"{name}: a tel: link not in hotlines.yml"
    written = re.findall(r"(?<!\d)\d{3,}(?!\d)", " ".join(page.text))
    assert set(written) <= set(numbers.values()), f"{name}: a number in the text that is not in hotlines.yml"
    assert numbers["police"] in written  # the safety banner


def test_chat_js_takes_the_numbers_from_the_page() -> None:
    """chat.js writes {police}, {youth}, {legal_service}; the only hotline-like literal is the channel "12355"."""
    lines = (STATIC / "chat.js").read_text(encoding="utf-8").splitlines()
    code = "\n".join(line for line in lines if not line.strip().startswith("//"))
    code = code.replace('"12355"', '"<channel>"')
    for key, number in hotline_numbers().items():
        assert not re.search(rf"(?<!\d){number}(?!\d)", code), f"chat.js writes {key} ({number}) itself"
    for key in NUMBER_ATTRIBUTES:
        assert "{" + key + "}" in code


def test_the_pages_load_nothing_from_another_host() -> None:
    for name in [*PAGES.values(), "chat.js", "chat.css"]:
        source = (STATIC / name).read_text(encoding="utf-8")
        assert not re.search(r"(?i)\b(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", source), f"{name} names another host"
        assert "@import" not in source and "@font-face" not in source, name
    for name in PAGES.values():
        for url in Page((STATIC / name).read_text(encoding="utf-8")).urls:
            assert url.startswith(("/static/", "tel:", "data:")), f"{name}: {url}"


@pytest.mark.rasa
def test_the_gateway_serves_the_pages_and_their_files(stack: Stack) -> None:
    with httpx.Client(base_url=stack.gateway_url, timeout=10.0) as client:
        for path, name in PAGES.items():
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-type"].startswith("text/html"), path
            assert response.text == (STATIC / name).read_text(encoding="utf-8")
            assert not re.search(r"(?i)https?://", response.text), f"{path} references an http(s) URL"
            assert "default-src 'self'" in response.headers["content-security-policy"]
        for name, kind in [("chat.js", "javascript"), ("chat.css", "text/css")]:
            response = client.get(f"/static/{name}")
            assert response.status_code == 200, name
            assert kind in response.headers["content-type"], name
        assert client.get("/static/nothing-here.js").status_code == 404
        assert client.get("/static/../web.py").status_code in (403, 404)

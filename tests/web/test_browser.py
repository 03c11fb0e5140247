"""The web chat pages in a real browser: Debian's chromium, headless, driven by Playwright (never a browser of
Playwright's own), against the real stack: the gateway process, Rasa with the trained model, the action server.

Each test runs at phone size (360x740) and leaves screenshots in var/test-artefacts/: the steps it names, and
`<test>-last.png` at its end, passed or failed. `make setup` installs chromium (scripts/bootstrap.sh); without it
these tests fail, they are not skipped."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, ViewportSize, expect, sync_playwright

from tests.conftest import Stack
from tests.web.test_pages import hotline_numbers

pytestmark = pytest.mark.rasa

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ROOT / "var" / "test-artefacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE: ViewportSize = {"width": 360, "height": 740}
TIMEOUT_MS = 20_000  # one answer through the whole stack takes well under a second once Rasa is warm

# A young person's question that starts the minors flow with a question that has buttons (not an urgent one).
MINORS_MESSAGE = "我是未成年人，想咨询一下"
SCHOOL = "学校里的事：霸凌、受伤"  # one of the first question's buttons
WAGES_MESSAGE = "老板拖欠工资"


@dataclass
class Phone:
    """One browser tab at phone size, and every URL it requested."""

    page: Page
    name: str
    requests: list[str] = field(default_factory=list)

    def open(self, url: str) -> Page:
        self.page.goto(url)
        self.page.wait_for_selector("body.ready")  # chat.js has shown what localStorage kept
        return self.page

    def shot(self, step: str) -> Path:
        path = ARTEFACTS / f"{self.name}-{step}.png"
        self.page.screenshot(path=path)
        return path

    def other_hosts(self, base_url: str) -> list[str]:
        ours = urlsplit(base_url).netloc
        return [u for u in self.requests if not u.startswith("data:") and urlsplit(u).netloc != ours]

    def overflow(self) -> int:
        """How far the page is wider than the screen (0: nothing sticks out sideways)."""
        width: int = self.page.evaluate("document.scrollingElement.scrollWidth")
        return max(0, width - PHONE["width"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"The browser test needs Debian's chromium at {CHROMIUM}. `make setup` installs it "
            "(scripts/bootstrap.sh: apt-get install -y --no-install-recommends chromium)."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def phone(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Phone]:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    tab = Phone(page, re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name))
    page.on("request", lambda r: tab.requests.append(r.url))
    try:
        yield tab
    finally:
        try:
            tab.shot("last")  # at the end of every test, passed or failed
        finally:
            context.close()


def agree(page: Page, button: str) -> None:
    expect(page.locator("#composer")).to_be_hidden()  # nothing can be sent before the notice is agreed to
    page.get_by_role("button", name=button).click()
    expect(page.locator("#consent")).to_be_hidden()
    expect(page.locator("#text")).to_be_focused()


def say(page: Page, text: str) -> None:
    """Types a message and sends it with Enter, as a person does."""
    box = page.locator("#text")
    box.fill(text)
    box.press("Enter")
    expect(page.locator(".msg.me .text").last).to_have_text(text)
    expect(box).to_have_value("")
    expect(box).to_be_focused()


def last_bot(page: Page) -> str:
    return page.locator(".msg.bot .text").last.inner_text()


def choices_of_last_reply(page: Page) -> list[str]:
    buttons = page.locator(".msg.bot").last.locator("button.choice")
    expect(buttons.first).to_be_visible()
    expect(buttons.first).to_be_enabled()
    return buttons.all_inner_texts()


def test_the_youth_page_talks_with_buttons_and_keeps_the_conversation_across_a_reload(
    stack: Stack, phone: Phone
) -> None:
    police = hotline_numbers()["police"]
    page = phone.open(f"{stack.gateway_url}/12355")

    banner = page.locator("#safety")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(f"如果你现在有危险，马上打 {police}")
    expect(banner.locator(f"a[href='tel:{police}']")).to_be_visible()
    expect(page.locator(".anon")).to_contain_text("不用留名字")
    expect(page.locator("#consent")).to_contain_text("不用说你的名字和电话")
    phone.shot("notice")
    agree(page, "好，开始聊")

    say(page, MINORS_MESSAGE)
    titles = choices_of_last_reply(page)
    assert SCHOOL in titles, titles
    assert phone.overflow() == 0
    phone.shot("question")

    bots_before = page.locator(".msg.bot").count()
    question = page.locator(".msg.bot").nth(bots_before - 1)
    question.get_by_role("button", name=SCHOOL).click()
    expect(page.locator(".msg.me .text").last).to_have_text(SCHOOL)  # the title, not the payload
    expect(question.locator("button.choice", has_text=SCHOOL)).to_be_disabled()
    expect(question.locator("button.choice:enabled")).to_have_count(0)  # the whole group is used ...
    expect(question.locator(".buttons")).to_be_hidden()  # ... and put away
    expect(page.locator(".msg.bot")).not_to_have_count(bots_before)
    expect(page.locator(".msg.bot .text").last).to_contain_text("几岁")  # the minors flow's next question
    expect(banner).to_be_in_viewport()  # the safety banner stays on screen while the conversation grows
    assert phone.overflow() == 0
    phone.shot("answered")

    kept = page.locator(".msg .text").all_inner_texts()
    session = page.evaluate("JSON.parse(localStorage.getItem('hotline.chat.12355')).session")
    assert re.fullmatch(r"[0-9a-f]{32}", session)

    page.reload()
    page.wait_for_selector("body.ready")
    expect(page.locator(".msg .text")).to_have_text(kept)
    expect(page.locator("#consent")).to_be_hidden()
    expect(page.locator("#composer")).to_be_visible()
    assert page.evaluate("JSON.parse(localStorage.getItem('hotline.chat.12355')).session") == session
    say(page, "14")  # the conversation continues where it stopped: the age, then who is writing
    expect(page.locator(".msg.bot .text").last).to_contain_text("是谁在写这条消息")
    assert "我自己（未成年人）" in choices_of_last_reply(page)
    assert phone.overflow() == 0
    phone.shot("reloaded")

    assert phone.other_hosts(stack.gateway_url) == []


def test_the_general_page_answers_a_wage_inquiry_with_buttons(stack: Stack, phone: Phone) -> None:
    page = phone.open(f"{stack.gateway_url}/")
    expect(page.locator("#safety")).to_contain_text(hotline_numbers()["police"])
    agree(page, "同意并开始")
    say(page, WAGES_MESSAGE)
    expect(page.locator(".msg.bot .text").last).to_contain_text("干活")  # the wages flow's first question
    assert choices_of_last_reply(page)
    assert phone.overflow() == 0
    phone.shot("wages")
    assert phone.other_hosts(stack.gateway_url) == []


def test_english_switches_the_page_and_the_answers(stack: Stack, phone: Phone) -> None:
    page = phone.open(f"{stack.gateway_url}/12355")
    texts = page.locator("[data-i18n]")
    chinese = texts.all_inner_texts()
    page.get_by_role("button", name="Switch to English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#safety")).to_contain_text("If you are in danger now, call 110")
    agree(page, "OK, let's start")
    say(page, "hi")
    expect(page.locator(".msg.bot .text").last).to_contain_text("Hello")  # the page sent lang=en
    phone.shot("english")
    page.get_by_role("button", name="切换到中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    assert texts.all_inner_texts() == chinese  # chat.js's Chinese texts are the page's own


def test_a_message_the_gateway_asks_to_wait_for_is_sent_again_by_itself(stack: Stack, phone: Phone) -> None:
    """429 with Retry-After: the page shows the gateway's sentence, keeps the message and sends it after the wait."""
    refused: list[str] = []

    def too_fast_once(route: Route) -> None:
        if refused:
            route.continue_()
            return
        refused.append(route.request.post_data or "")
        route.fulfill(
            status=429,
            headers={"Retry-After": "2"},
            json={"error": "您发得有点快，请等 2 秒再发，消息不会丢。 You are sending messages quickly; please wait."},
        )

    page = phone.open(f"{stack.gateway_url}/12355")
    page.route("**/api/chat", too_fast_once)
    agree(page, "好，开始聊")
    say(page, MINORS_MESSAGE)
    expect(page.locator("#notice")).to_contain_text("您发得有点快，请等 2 秒再发")  # the gateway's own words
    expect(page.locator("#notice")).to_contain_text("不用再发一次")
    expect(page.locator(".msg.me .status").last).to_contain_text("秒后自动重发")
    phone.shot("waiting")
    choices_of_last_reply(page)  # it arrived after the wait, without the person doing anything
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator(".msg.me .status").last).to_be_hidden()
    assert len(refused) == 1 and MINORS_MESSAGE in refused[0]
    expect(page.locator(".msg.me")).to_have_count(1)  # sent once more, not shown twice


def test_a_message_lost_to_the_network_is_kept_and_sent_on_retry(stack: Stack, phone: Phone) -> None:
    page = phone.open(f"{stack.gateway_url}/")
    page.route("**/api/chat", lambda route: route.abort("internetdisconnected"))
    agree(page, "同意并开始")
    say(page, WAGES_MESSAGE)
    notice = page.locator("#notice")
    expect(notice).to_contain_text("连不上服务")
    expect(page.locator(".msg.me .status").last).to_have_text("还没发出去")
    phone.shot("offline")

    page.unroute("**/api/chat")
    page.reload()  # still kept after a reload, and sent as the page opens again
    page.wait_for_selector("body.ready")
    expect(page.locator(".msg.me .text")).to_have_text([WAGES_MESSAGE])
    expect(page.locator(".msg.bot .text").last).to_contain_text("干活")


def test_the_retry_button_sends_what_the_network_lost(stack: Stack, phone: Phone) -> None:
    down = [True]

    def network(route: Route) -> None:
        if down[0]:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page = phone.open(f"{stack.gateway_url}/")
    page.route("**/api/chat", network)
    agree(page, "同意并开始")
    say(page, WAGES_MESSAGE)
    expect(page.locator("#notice")).to_contain_text("连不上服务")
    down[0] = False
    page.locator("#notice").get_by_role("button", name="重试").click()
    expect(page.locator(".msg.bot .text").last).to_contain_text("干活")
    expect(page.locator("#notice")).to_be_hidden()


def test_a_new_conversation_forgets_the_old_one_on_this_device(stack: Stack, phone: Phone) -> None:
    page = phone.open(f"{stack.gateway_url}/12355")
    agree(page, "好，开始聊")
    say(page, MINORS_MESSAGE)
    choices_of_last_reply(page)
    first = page.evaluate("JSON.parse(localStorage.getItem('hotline.chat.12355')).session")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="新对话").click()
    expect(page.locator(".msg")).to_have_count(0)
    expect(page.locator("#consent")).to_be_visible()  # the notice again, for whoever uses this phone next
    assert page.evaluate("JSON.parse(localStorage.getItem('hotline.chat.12355')).session") != first

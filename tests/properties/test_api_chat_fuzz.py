"""Bad input for POST /api/chat, against the real gateway, Rasa with the trained model and the action server.

With hypothesis: any JSON value as the body, wrong types in every field, sessions outside `[A-Za-z0-9_-]{1,64}`,
texts of any Unicode (control characters, right-to-left marks, emoji, HTML, SQL), texts over 4000 characters,
blank texts, bytes that are not UTF-8 or not JSON, wrong content types, huge bodies. The gateway never answers
5xx; every error is JSON `{"error": "<a sentence>"}` with status 400, 413, 415 or 429; every 200 has the
documented shape. And no message text reaches any of the three services' logs.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import Stack

pytestmark = pytest.mark.rasa

SESSION = re.compile(r"[A-Za-z0-9_-]{1,64}")
ERROR_STATUSES = {400, 413, 415, 429}
# Every request of the cheap tests is refused before Rasa; the ones that reach Rasa are fewer.
CHEAP = settings(
    max_examples=60, deadline=None, database=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
VIA_RASA = settings(
    max_examples=40, deadline=None, database=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30.0) as http:
        yield http


def fresh_session() -> str:
    return f"fuzz-{uuid.uuid4().hex[:16]}"


def post_raw(client: httpx.Client, body: bytes, content_type: str | None = "application/json") -> httpx.Response:
    headers = {"Content-Type": content_type} if content_type is not None else {}
    return client.post("/api/chat", content=body, headers=headers)


def post_json(client: httpx.Client, body: object) -> httpx.Response:
    return post_raw(client, json.dumps(body).encode())


def check_error(response: httpx.Response, *statuses: int) -> str:
    """An error a person (or the page) can read: JSON {"error": sentence}, one of the documented statuses."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert response.status_code in (statuses or ERROR_STATUSES), (response.status_code, response.text[:500])
    assert response.headers.get("content-type", "").startswith("application/json"), response.text[:200]
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    message = body["error"]
    assert isinstance(message, str) and message.strip() and message.rstrip().endswith("."), message
    for leak in ("Traceback", "Exception", "Error:", 'File "', "<script", "\x00"):  # no internals, no echo
        assert leak not in message, message
    assert not re.search(r"\bline \d+|0x[0-9a-f]{6,}", message), message
    if response.status_code == 429:
        assert int(response.headers["Retry-After"]) >= 1
    return message


def check_answer(response: httpx.Response, session: str) -> None:
    """The documented 200: the session back, and at least one message of text and buttons (unless a lawyer's
    case took the message: `relayed`)."""
    assert response.status_code == 200, (response.status_code, response.text[:500])
    body = response.json()
    assert body["session"] == session
    messages = body["messages"]
    assert isinstance(messages, list)
    for message in messages:
        assert isinstance(message["text"], str) and message["text"]
        assert isinstance(message["buttons"], list)
        for button in message["buttons"]:
            assert isinstance(button["title"], str) and isinstance(button["payload"], str)
    if not body.get("relayed"):
        assert messages, "a valid message got no answer at all"


def check(response: httpx.Response, session: str | None = None) -> None:
    if response.status_code == 200 and session is not None:
        check_answer(response, session)
    else:
        check_error(response)


# --- what bad input is made of ----------------------------------------------------------------------------------------

INJECTIONS = [
    "<b>bold</b>",
    '<a href="tg://user?id=1">x</a>',
    "<script>alert(1)</script>",
    "*bold* [x](tg://user?id=1)",
    "'; DROP TABLE cases; --",
    '" OR 1=1 --',
    "{text} %s {{0}}",
    "\u202e\u2066evil\u2069\u202c",
    "\x00\x01\x1b[31m\x7f\x85",
    "😀👨\u200d👩\u200d👧🇨🇳",
    "老板欠我三个月工资",
    "我想自杀",
    "مرحبا שלום",
    "\r\n\t",
    "/restart",
    '/inquiry_wages{"amount": 1}',
]
pieces = st.one_of(st.sampled_from(INJECTIONS), st.text(max_size=10))
texts = st.one_of(st.text(min_size=1, max_size=200), st.lists(pieces, min_size=1, max_size=15).map("".join)).filter(
    lambda t: bool(t.strip()) and len(t) <= 4000
)
long_texts = st.builds(
    lambda piece, size: (piece * (size // len(piece) + 1))[:size], pieces.filter(bool), st.integers(1000, 4000)
).filter(lambda t: bool(t.strip()))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
valid_sessions = st.from_regex(SESSION, fullmatch=True)
bad_sessions = st.one_of(
    st.text(max_size=80).filter(lambda s: not SESSION.fullmatch(s)),
    st.integers(65, 300).map(lambda n: "a" * n),
    st.sampled_from(["", " ", "abc def", "abc\n", "../etc/passwd", "a/b", "a%2Fb", "ａｂｃ", "١٢٣", "'; DROP TABLE--"]),
)
MISSING = object()


# --- the body is no JSON object, or not the right one -----------------------------------------------------------------


@CHEAP
@given(json_values)
@example([])
@example(None)
@example("老板欠我工资")
@example({"session": None, "text": None})
def test_any_json_value_as_the_body_is_refused_readably(client: httpx.Client, value: Any) -> None:
    check_error(post_json(client, value), 400)


def valid(field: str, value: object) -> bool:
    """The spec of issue 5, field by field (MISSING: not in the object)."""
    match field:
        case "session":
            return isinstance(value, str) and bool(SESSION.fullmatch(value))
        case "text":
            return isinstance(value, str) and bool(value.strip()) and len(value) <= 4000
        case "channel":
            return value is MISSING or value in ("web", "12355")
        case "lang":
            return value is MISSING or value is None or value in ("zh", "en")
        case "consent":
            return value is MISSING or isinstance(value, bool)
    raise AssertionError(field)


VALID_FIELDS = {
    "session": valid_sessions,
    "text": texts,
    "channel": st.sampled_from(["web", "12355"]),
    "lang": st.sampled_from(["zh", "en", None]),
    "consent": st.booleans(),
}
WRONG_FIELDS = {
    "session": bad_sessions,
    "text": st.sampled_from(["", " ", "a" * 4001]),
    "channel": st.sampled_from(["WEB", "telegram", "", "web "]),
    "lang": st.sampled_from(["ZH", "zh-CN", "fr", ""]),
    "consent": st.sampled_from([0, 1, "true", "yes"]),
}


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A right body (optional fields or not), then some of its fields missing, wrong, or of another JSON type."""
    body: dict[str, Any] = {"session": draw(valid_sessions), "text": draw(texts)}
    for field in draw(st.sets(st.sampled_from(["channel", "lang", "consent"]))):
        body[field] = draw(VALID_FIELDS[field])
    for field in draw(st.sets(st.sampled_from(sorted(VALID_FIELDS)), max_size=3)):
        how = draw(st.sampled_from(["missing", "wrong", "other type"]))
        if how == "missing":
            body.pop(field, None)
        else:
            body[field] = draw(WRONG_FIELDS[field] if how == "wrong" else json_values)
    return body


@VIA_RASA
@given(bodies())
def test_an_object_with_wrong_types_is_refused_and_a_right_one_answered(
    client: httpx.Client, body: dict[str, Any]
) -> None:
    response = post_json(client, body)
    if all(valid(field, body.get(field, MISSING)) for field in VALID_FIELDS):
        if response.status_code != 429:
            check_answer(response, body["session"])
    else:
        check_error(response, 400)


@CHEAP
@given(bad_sessions, texts)
def test_a_session_outside_the_allowed_set_is_refused(client: httpx.Client, session: str, text: str) -> None:
    message = check_error(post_json(client, {"session": session, "text": text}), 400)
    assert "session" in message


# --- texts ------------------------------------------------------------------------------------------------------------


@VIA_RASA
@given(
    st.one_of(texts, st.sampled_from(INJECTIONS)),
    st.sampled_from(["web", "12355"]),
    st.sampled_from([None, "zh", "en"]),
)
@example("<script>alert(1)</script>'; DROP TABLE cases; --", "web", None)
@example("\u202e\u200f\u2067\u2069 老板欠我工资", "12355", "zh")
def test_any_text_gets_an_answer(client: httpx.Client, text: str, channel: str, lang: str | None) -> None:
    session = fresh_session()
    body: dict[str, Any] = {"session": session, "text": text, "channel": channel}
    if lang:
        body["lang"] = lang
    check(post_json(client, body), session)


@settings(max_examples=6, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(long_texts)
def test_a_long_text_up_to_4000_characters_gets_an_answer(client: httpx.Client, text: str) -> None:
    session = fresh_session()
    check(post_json(client, {"session": session, "text": text}), session)


@CHEAP
@given(st.integers(4001, 6000), st.sampled_from(["a", "工", "😀", " a", "\u200b"]))
def test_a_text_over_4000_characters_is_refused(client: httpx.Client, size: int, piece: str) -> None:
    text = (piece * size)[:size]
    check_error(post_json(client, {"session": fresh_session(), "text": text}), 400, 413)


WHITESPACE = "".join(ch for ch in map(chr, range(0x3001)) if ch.isspace())


@CHEAP
@given(st.text(alphabet=WHITESPACE, max_size=50))
@example("")
@example("\u3000\u00a0\u2028\x1c")
def test_an_empty_or_blank_text_is_refused(client: httpx.Client, text: str) -> None:
    message = check_error(post_json(client, {"session": fresh_session(), "text": text}), 400)
    assert "text" in message


INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff\x00\x01\x7f"


@settings(VIA_RASA, max_examples=25)
@given(st.text(alphabet=INVISIBLE + " \t\n", min_size=1, max_size=30).filter(lambda t: bool(t.strip())))
@example("\u200b")
@example("\u202e")
def test_a_text_of_invisible_characters_only_is_refused_or_answered(client: httpx.Client, text: str) -> None:
    """Nothing is left once control and directional characters are gone (hotline.text.normalise): the gateway
    refuses it like a blank text, or the bot answers it like any message, never with nothing or a 5xx."""
    session = fresh_session()
    check(post_json(client, {"session": session, "text": text}), session)


# --- bytes, content types, sizes --------------------------------------------------------------------------------------


def is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


@CHEAP
@given(st.binary(max_size=3000))
@example(b"\xff\xfe\x00\x00")
@example(b'{"session": "abc", "text": "\xff\xfe"}')
@example(b'{"session": "abc", "text": "\xed\xa0\x80"}')  # an encoded lone surrogate
@example(b"{'session': 'abc', 'text': 'hi'}")
@example(b'{"session": "abc", "text": "hi",}')
def test_bytes_that_are_no_json_are_refused(client: httpx.Client, raw: bytes) -> None:
    response = post_raw(client, raw)
    if is_json(raw):
        check(response)
    else:
        assert check_error(response, 400) == "The request body is not valid JSON."


@CHEAP
@given(st.binary(min_size=1, max_size=40), st.text(max_size=40))
def test_bytes_that_are_not_utf8_inside_a_text_are_refused(client: httpx.Client, bad: bytes, text: str) -> None:
    raw = b'{"session": "' + fresh_session().encode() + b'", "text": "' + text.encode() + bad + b'"}'
    response = post_raw(client, raw)
    try:
        json.loads(raw.decode("utf-8"))
    except ValueError:
        check_error(response, 400)
    else:
        check(response, json.loads(raw)["session"])


PATHOLOGICAL = {
    "deep nesting": b"[" * 8000 + b"]" * 8000,
    "deep objects": b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "an integer of 5000 digits": b'{"session": "abc", "text": "hi", "lang": ' + b"9" * 5000 + b"}",
    "a lone surrogate escape": b'{"session": "lone-surrogate", "text": "\\ud800"}',
    "a lone low surrogate in Chinese": b'{"session": "lone-surrogate-zh", "text": "\\udfff\xe5\xb7\xa5\xe8\xb5\x84"}',
    "an escaped surrogate pair": b'{"session": "surrogate-pair", "text": "\\ud83d\\ude00"}',
    "NaN": b'{"session": "nan", "text": NaN}',
    "Infinity": b'{"session": "inf", "text": "hi", "lang": Infinity}',
    "duplicate keys": b'{"session": "dup", "text": "", "text": "hi"}',
    "a byte-order mark": b'\xef\xbb\xbf{"session": "bom", "text": "hi"}',
    "UTF-16": '{"session": "utf16", "text": "工资"}'.encode("utf-16"),
    "UTF-32": '{"session": "utf32", "text": "工资"}'.encode("utf-32"),
    "null bytes": b'{"session": "nul", "text": "\x00"}',
    "an escaped null": b'{"session": "nul-escaped", "text": "\\u0000"}',
    "trailing garbage": b'{"session": "abc", "text": "hi"} {}',
    "empty": b"",
}


@pytest.mark.parametrize("raw", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_json_is_never_a_server_error(client: httpx.Client, raw: bytes) -> None:
    response = post_raw(client, raw)
    if response.status_code == 200:
        check_answer(response, response.json()["session"])
    else:
        check_error(response)


WRONG_TYPES = [
    "text/plain",
    "text/plain; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/xml",
    "text/json",
    "text/html",
    "application/javascript",
    "application/json-patch+json",
    "application/octet-stream",
    "image/png",
    "",
    "json",
    "*/*",
    "application/*",
]


@CHEAP
@given(
    st.sampled_from([*WRONG_TYPES, None]), st.sampled_from([b'{"session": "ct", "text": "hi"}', b"session=ct&text=hi"])
)
def test_a_wrong_content_type_is_refused(client: httpx.Client, content_type: str | None, raw: bytes) -> None:
    check_error(post_raw(client, raw, content_type), 415)


@pytest.mark.parametrize("size", [16 * 1024 + 1, 100 * 1024, 2 * 1024 * 1024])
def test_a_huge_body_is_refused(client: httpx.Client, size: int) -> None:
    text = "a" * size
    raw = json.dumps({"session": fresh_session(), "text": text}).encode()
    check_error(post_raw(client, raw), 413)


def test_a_huge_body_without_a_length_is_refused(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"session": "chunked", "text": "'
        for _ in range(64):
            yield b"a" * 1024
        yield b'"}'

    response = client.post("/api/chat", content=chunks(), headers={"Content-Type": "application/json"})
    check_error(response, 413)


def test_a_gzip_body_that_is_not_gzip_is_refused(client: httpx.Client) -> None:
    response = client.post(
        "/api/chat",
        content=b'{"session": "gz", "text": "hi"}',
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    check_error(response, 400, 415)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_another_method_is_refused_with_a_readable_error(client: httpx.Client, method: str) -> None:
    response = client.request(method, "/api/chat", json={"session": "m", "text": "hi"})
    assert response.status_code == 405
    check_error(response, 405)


# --- privacy: no message text in any log ------------------------------------------------------------------------------

SECRETS = ["王小明", "13812345678", "Zhang Weiqiang", "Xiaoming-Secret-Street"]


def test_no_message_text_reaches_the_logs(client: httpx.Client, stack: Stack) -> None:
    texts = [
        "我叫王小明，电话13812345678，老板欠我三个月工资",
        "My name is Zhang Weiqiang, call me on 13812345678, I live on Xiaoming-Secret-Street",
        "13812345678",
        "王小明",
    ]
    session = fresh_session()
    for text in texts:
        check(post_json(client, {"session": session, "text": text}), session)
    check_error(post_json(client, {"session": "bad session 13812345678", "text": "王小明"}), 400)
    time.sleep(1.0)  # the services write their logs asynchronously
    logs = {name: stack.settings.var_dir / name for name in ("gateway.log", "actions.log", "rasa.log")}
    leaks = [
        f"{name}: {line.strip()[:300]}"
        for name, path in logs.items()
        if path.exists()
        for line in path.read_text("utf-8", errors="replace").splitlines()
        if any(secret in line for secret in SECRETS)
    ]
    assert leaks == []
    assert logs["gateway.log"].exists() and logs["actions.log"].exists() and logs["rasa.log"].exists()

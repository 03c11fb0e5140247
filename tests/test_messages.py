from hotline import messages


def test_every_message_exists_in_both_languages_with_known_placeholders() -> None:
    assert messages.validate() == []


def test_hotline_numbers_are_data_with_source_and_date() -> None:
    for key, entry in messages.hotlines().items():
        assert entry["source"] and entry["confidence"] in ("V", "S", "D", "R"), key
        assert str(entry["checked"]) >= "2026-01-01", key


def test_numbers_are_filled_in() -> None:
    text = messages.text("emergency", "zh")
    assert "110" in text and "{" not in text
    assert "110" in messages.text("emergency", "en")


def test_topic_texts_cite_their_articles_and_say_the_office_decides() -> None:
    for key in ("topic_wages", "topic_injury", "topic_minors", "topic_other"):
        zh, en = messages.text(key, "zh"), messages.text(key, "en")
        assert "第" in zh and "条" in zh, key
        assert "Art." in en, key
        assert "第43条" in zh and "Art. 43" in en, key

from hotline.text import detect_lang, normalise


def test_traditional_becomes_simplified() -> None:
    assert normalise("爸爸經常打我") == "爸爸经常打我"
    assert normalise("老闆拖欠薪資") == "老板拖欠薪资"


def test_full_width_and_control_characters_are_folded() -> None:
    assert normalise("ＡＢＣ　１２３\u200b\u202e元") == "ABC 123 元"
    assert normalise("  多个   空格\n换行 ") == "多个 空格 换行"


def test_english_is_left_alone() -> None:
    assert normalise("My boss hasn't paid me") == "My boss hasn't paid me"


def test_language_detection() -> None:
    assert detect_lang("老板欠我三个月工资") == "zh"
    assert detect_lang("my boss hasn't paid me for two months") == "en"
    assert detect_lang("老板不pay我salary") == "zh"  # code-mixed Chinese stays Chinese
    assert detect_lang("15000", default="en") == "en"  # digits alone keep the conversation's language
    assert detect_lang("15000", default="zh") == "zh"

import pytest

from reconciler.base.units import format_duration_ms, parse_duration_ms


@pytest.mark.parametrize("text,ms", [("5s", 5000), ("100ms", 100), ("1min", 60000), ("2h", 7_200_000),
                                     ("1d", 86_400_000), ("250", 250), (300, 300), ("1.5s", 1500), ("0", 0)])
def test_parse(text, ms):
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", ["soon", "5 parsecs", "-1s", True, "1.2.3s"])
def test_parse_refuses(text):
    with pytest.raises(ValueError):
        parse_duration_ms(text)


@pytest.mark.parametrize("ms,text", [(0, "0"), (5000, "5s"), (60000, "1min"), (1500, "1500ms"), (86_400_000, "1d")])
def test_format(ms, text):
    assert format_duration_ms(ms) == text
    assert parse_duration_ms(text) == ms

import pytest

from webhook.core.durations import parse_duration


@pytest.mark.parametrize(("text", "seconds"), [(90, 90), ("90", 90), ("15m", 900), ("1h30m", 5400), ("2d", 172800),
                                               ("500ms", 0.5), ("1.5h", 5400)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "15 minutes", "-5", "m15", "", True])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)

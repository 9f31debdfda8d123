"""Label matchers in Prometheus syntax, as operators write them in alertmanager.yml and amtool."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from webhook.settings import Settings
from webhook.sources.matchers import Matcher, describe, matches_all, parse_matchers


def test_documented_example_parses_into_two_matchers():
    matchers = parse_matchers('vcf_backup="true",severity=~"critical|warning"')
    assert [(m.name, m.op, m.value) for m in matchers] == [("vcf_backup", "=", "true"),
                                                            ("severity", "=~", "critical|warning")]
    assert matches_all(matchers, {"vcf_backup": "true", "severity": "warning"})
    assert not matches_all(matchers, {"vcf_backup": "true", "severity": "info"})
    assert not matches_all(matchers, {"severity": "critical"})


def test_empty_text_matches_every_alert():
    assert parse_matchers("") == ()
    assert parse_matchers(None) == ()
    assert matches_all((), {"anything": "at all"})
    assert describe(()) == "{} (every alert)"


def test_regexes_are_anchored_like_alertmanager():
    [matcher] = parse_matchers('severity=~"crit"')
    assert not matcher.matches({"severity": "critical"})
    assert matcher.matches({"severity": "crit"})


@pytest.mark.parametrize(("text", "labels", "expected"), [
    ('team!="storage"', {"team": "network"}, True),
    ('team!="storage"', {}, True),
    ('team=""', {}, True),
    ('team!~"stor.*"', {"team": "storage"}, False),
    ('team!~"stor.*"', {"team": "compute"}, True),
    ('instance=~"esxi-\\d+\\.example\\.com"', {"instance": "esxi-12.example.com"}, True),
])
def test_operators_and_missing_labels(text, labels, expected):
    [matcher] = parse_matchers(text)
    assert matcher.matches(labels) is expected


def test_braces_spaces_unquoted_values_and_commas_inside_quotes():
    matchers = parse_matchers('{ env = prod , summary="a, b", note="say \\"hi\\"" , }')
    assert [(m.name, m.value) for m in matchers] == [("env", "prod"), ("summary", "a, b"), ("note", 'say "hi"')]


def test_matchers_print_back_in_the_same_syntax():
    matchers = parse_matchers('a="x\\"y", b=~"c|d"')
    assert parse_matchers(", ".join(str(m) for m in matchers)) == matchers
    assert describe(matchers) == '{a="x\\"y", b=~"c|d"}'


@pytest.mark.parametrize(("text", "fragment"), [
    ('severity=="critical"', "stray quote"),
    ('severity~"critical"', "expected name"),
    ('severity="critical', "unterminated"),
    ('severity=~"("', "invalid regular expression"),
    ('a="1" b="2"', "expected a comma"),
    ('1abc="x"', "expected name"),
])
def test_malformed_matchers_say_what_is_wrong(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_matchers(text)


def test_unknown_operator_is_refused():
    with pytest.raises(ValueError, match="operator"):
        Matcher.of("a", "~=", "x")


def test_settings_refuse_invalid_matchers_at_startup():
    with pytest.raises(ValidationError, match="invalid regular expression"):
        Settings(alertmanager_matchers='severity=~"("')
    assert Settings(alertmanager_matchers='vcf_backup="true"').alertmanager_matchers == 'vcf_backup="true"'

from __future__ import annotations

import pytest

from webhook.core.callbacks import CallbackPolicy, HostAllowlist, is_forbidden_address
from webhook.core.errors import CallbackRefused

POLICY = CallbackPolicy(HostAllowlist.of(["hooks.example.com", "*.ops.example.com", "ci.example.com:8443",
                                          "169.254.169.254", "[fd00:ec2::254]"]))


@pytest.mark.parametrize("url", [
    "https://hooks.example.com/x", "https://a.ops.example.com/cb", "https://b.c.ops.example.com/",
    "https://ci.example.com:8443/done",
])
def test_allowed_callback_urls(url):
    assert POLICY.check(url) == url


@pytest.mark.parametrize(("url", "why"), [
    ("https://evil.example.com/x", "not on the allowlist"),
    ("https://ops.example.com/x", "not on the allowlist"),
    ("https://ci.example.com/done", "not on the allowlist"),
    ("http://hooks.example.com/x", "plain http"),
    ("ftp://hooks.example.com/x", "absolute https"),
    ("https://169.254.169.254/latest/meta-data", "metadata"),
    ("https://[fd00:ec2::254]/latest", "metadata"),
    ("https://user:pw@hooks.example.com/x", "credentials"),
    ("not a url", "absolute https"),
])
def test_refused_callback_urls_say_why(url, why):
    with pytest.raises(CallbackRefused, match=why):
        POLICY.check(url)


def test_plain_http_only_when_enabled():
    policy = CallbackPolicy(HostAllowlist.of(["127.0.0.1:9000"]), allow_http=True)
    assert policy.check("http://127.0.0.1:9000/cb")


def test_forbidden_addresses_include_mapped_ipv4():
    assert is_forbidden_address("::ffff:169.254.169.254")
    assert not is_forbidden_address("10.0.0.1")

"""Which callback hosts may be called: every address form that reaches a
non-public address is refused, whatever the IPv6 wrapping around it."""

import pytest

from recognizer.callbacks import CallbackRefused, callback_check_host

REFUSED = {
    "loopback": "127.0.0.1",
    "private": "10.1.2.3",
    "shared address space (carrier NAT)": "100.64.0.1",
    "link-local (cloud metadata)": "169.254.169.254",
    "IETF protocol assignments": "192.0.0.8",
    "TEST-NET-1": "192.0.2.1",
    "6to4 relay anycast": "192.88.99.1",
    "benchmarking": "198.18.0.1",
    "multicast": "224.0.0.1",
    "reserved": "240.0.0.1",
    "broadcast": "255.255.255.255",
    "this network": "0.0.0.0",  # noqa: S104 - an address refused, not bound
    "IPv6 loopback": "[::1]",
    "IPv4-mapped loopback": "[::ffff:127.0.0.1]",
    "IPv4-mapped private": "[::ffff:10.0.0.1]",
    "IPv4-compatible loopback": "[::127.0.0.1]",
    "NAT64 of loopback": "[64:ff9b::7f00:1]",
    "NAT64 of metadata": "[64:ff9b::a9fe:a9fe]",
    "local-use NAT64": "[64:ff9b:1::808:808]",
    "6to4 of loopback": "[2002:7f00:1::]",
    "6to4 of private": "[2002:c0a8:101::1]",
    "Teredo": "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
    "unique local": "[fd00::1]",
    "link-local": "[fe80::1]",
    "site-local": "[fec0::1]",
    "documentation": "[2001:db8::1]",
    "IPv6 multicast": "[ff02::1]",
    "discard-only": "[100::1]",
}

ALLOWED = {
    "public IPv4": "8.8.8.8",
    "public IPv6": "[2606:4700:4700::1111]",
    "IPv4-mapped public": "[::ffff:8.8.8.8]",
    "NAT64 of a public address": "[64:ff9b::808:808]",
    "6to4 of a public address": "[2002:808:808::1]",
}


@pytest.mark.parametrize("host", REFUSED.values(), ids=REFUSED.keys())
def test_a_host_that_reaches_a_non_public_address_is_refused(host):
    with pytest.raises(CallbackRefused, match="non-public address"):
        callback_check_host(f"http://{host}/hook", allow_private=False)


@pytest.mark.parametrize("host", ALLOWED.values(), ids=ALLOWED.keys())
def test_a_public_address_in_any_form_may_be_called(host):
    callback_check_host(f"https://{host}/hook", allow_private=False)


def test_private_hosts_may_be_allowed_by_the_deployment():
    callback_check_host("http://[64:ff9b::7f00:1]/hook", allow_private=True)

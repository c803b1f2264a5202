"""Whether an IP address is one the server may call on an integrator's behalf
(no Django): a public unicast address, whatever it is wrapped in.

`ipaddress.is_global` alone is not enough on Python 3.11: it misses parts of
IANA's special-purpose registries (192.0.0.0/24, multicast, site-local), and
an IPv6 address can carry an IPv4 address that IPv6's own ranges know
nothing about: IPv4-mapped and -compatible, NAT64, 6to4 and Teredo reach the
embedded address, so that address decides.
"""

import ipaddress
from ipaddress import IPv4Address, IPv6Address, ip_network

Address = IPv4Address | IPv6Address

# IANA's special-purpose ranges that are not globally reachable, and the
# non-unicast ones, beyond what is_global already refuses (kept whole where
# the registry has a few reachable exceptions: a callback never needs them).
_NOT_PUBLIC = [
    ip_network(network)
    for network in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
        "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
        "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
]  # fmt: skip
_NAT64 = ip_network("64:ff9b::/96")  # the well-known prefix: the IPv4 address is the last 32 bits
_IPV4_COMPATIBLE = ip_network(
    "::/96"
)  # deprecated, but still routed to the IPv4 address by some stacks
_TEREDO = ip_network("2001::/32")


def is_public(address: Address) -> bool:
    """True only for a public unicast address, judged by what it reaches."""
    if isinstance(address, IPv6Address):
        embedded = embedded_ipv4(address)
        if embedded:
            return all(is_public(inner) for inner in embedded)
    return address.is_global and not any(address in network for network in _NOT_PUBLIC)


def embedded_ipv4(address: IPv6Address) -> list[IPv4Address]:
    """The IPv4 addresses an IPv6 address reaches through; [] for a plain one."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return [IPv4Address(int(address) & 0xFFFF_FFFF)]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address in _TEREDO and address.teredo is not None:
        return list(address.teredo)  # the server and the (de-obfuscated) client
    return []


def parse_address(text: str) -> Address:
    """An address as getaddrinfo gives it (an IPv6 zone suffix dropped)."""
    return ipaddress.ip_address(text.split("%", 1)[0])

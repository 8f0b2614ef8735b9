package egress

import "net/netip"

// special are the IPv4 ranges that are not reachable on the public internet
// (IANA IPv4 Special-Purpose Address Registry), with what each is.
var special4 = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a \"this network\" address"}, // 0.0.0.0 reaches the local host on Linux
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (carrier-grade NAT) address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "a reserved address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("192.88.99.0/24"), "a reserved address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved or broadcast address"},
}

// global6 is where public IPv6 unicast addresses are allocated. Everything
// outside it (loopback, unspecified, IPv4-compatible, NAT64, discard,
// unique local, link-local, site-local, multicast) is refused.
var global6 = netip.MustParsePrefix("2000::/3")

// special6 are the ranges inside global6 that are not public unicast. 6to4
// and Teredo embed IPv4 addresses that a relay would reach on our behalf.
var special6 = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("2001::/23"), "a reserved address"}, // IETF protocol assignments, Teredo among them
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("2002::/16"), "a 6to4 address"},
	{netip.MustParsePrefix("3fff::/20"), "a documentation address"},
}

// Classify says why ip is not a public unicast address, e.g. "a loopback
// address", or returns "" when it is one. IPv4-mapped IPv6 addresses are
// classified as the IPv4 address they map.
func Classify(ip netip.Addr) string {
	ip = canonical(ip)
	switch {
	case !ip.IsValid():
		return "not a valid address"
	case ip.IsUnspecified():
		return "the unspecified address"
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsPrivate():
		return "a private address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address"
	case ip.IsMulticast():
		return "a multicast address"
	}
	if ip.Is4() {
		for _, s := range special4 {
			if s.prefix.Contains(ip) {
				return s.what
			}
		}
		return ""
	}
	if !global6.Contains(ip) {
		return "a reserved address"
	}
	for _, s := range special6 {
		if s.prefix.Contains(ip) {
			return s.what
		}
	}
	return ""
}

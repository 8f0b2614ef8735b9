package apptest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/intake/intake/internal/egress"
)

// LoopbackEgress returns the egress policy of apps started by Start: it
// allows loopback, where the fakes and tests' own servers listen, and
// keeps every test on this machine. Host names resolve from a table
// ("localhost" only), so no lookup leaves the machine, and any dial to an
// address outside loopback fails.
func LoopbackEgress() *egress.Policy {
	return &egress.Policy{
		Allow: egress.Allow{
			{Prefix: netip.MustParsePrefix("127.0.0.0/8")},
			{Prefix: netip.MustParsePrefix("::1/128")},
		},
		Resolver: Hosts{"localhost": {netip.MustParseAddr("127.0.0.1")}},
		Dial:     LoopbackDial(nil),
	}
}

// Hosts is a Resolver that answers from a table and reports every other
// name as not found, without any lookup.
type Hosts map[string][]netip.Addr

// LookupNetIP implements egress.Resolver.
func (h Hosts) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range h[strings.ToLower(strings.TrimSuffix(host, "."))] {
		if network == "ip" || network == "ip4" && a.Is4() || network == "ip6" && a.Is6() {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

// LoopbackDial returns an egress dial function that connects only to
// loopback addresses. Any other address is refused without a packet sent,
// and reported to fail (a test's Errorf), since the policy should never
// have let it through; fail may be nil.
func LoopbackDial(fail func(format string, args ...any)) egress.DialFunc {
	var d net.Dialer
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !ap.Addr().Unmap().IsLoopback() {
			if fail != nil {
				fail("egress: dial to %s attempted: only loopback may be dialed in tests", address)
			}
			return nil, fmt.Errorf("test dial to %s refused: not a loopback address", address)
		}
		return d.DialContext(ctx, network, address)
	}
}

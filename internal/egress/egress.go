// Package egress decides which network addresses Intake may connect to on a
// tenant's behalf. Tenants choose the URLs of their integrations, so without
// a policy any organization could make Intake call services that only the
// host can reach (cloud metadata, the database, Intake's own /metrics) and
// read their answers back in error messages.
//
// By default only public unicast addresses are allowed. Operators widen the
// policy with Allow rules (INTAKE_EGRESS_ALLOW). The check is made by
// Policy.DialContext on the addresses a connection is actually opened to,
// after resolution, so a host name that resolves to a public address when
// a URL is validated and to a private one when it is used (DNS rebinding)
// is still refused, and so is every redirect that opens a new connection.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Resolver resolves host names; *net.Resolver implements it. Tests pass one
// that answers from a table, so that no lookup leaves the machine.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DialFunc opens a connection to address, which DialContext only ever passes
// as a checked literal "ip:port".
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Policy is the egress policy of a process. The zero value allows public
// unicast addresses only, resolves with net.DefaultResolver and dials with a
// net.Dialer. A Policy must not be changed once it is in use.
type Policy struct {
	// Allow widens the default.
	Allow Allow
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
	// Dial is the function that finally connects to a checked address; nil
	// means a net.Dialer. Tests replace it with one that fails the test on
	// any address outside loopback, so that a broken policy cannot send a
	// packet to another network.
	Dial DialFunc
}

// RefusedError is a connection the policy refused.
type RefusedError struct {
	// Host is the host as the URL named it (a name or a literal address).
	Host string
	// Reason says why, e.g. "127.0.0.1 is a loopback address". It never
	// names the address a host name resolved to: that would let a tenant
	// map the host's internal names.
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("connection to %s refused: %s; outbound requests may only go to public addresses", e.Host, e.Reason)
}

// defaultDialer matches http.DefaultTransport's.
var defaultDialer = &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}

// DialContext connects to address ("host:port") if the policy allows it. A
// host name is resolved once, every address it resolves to is checked, and
// only the checked addresses are dialed, so the check and the connection
// cannot see different answers. A refusal is a *RefusedError.
func (p *Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	addrs, err := p.Resolve(ctx, network, address)
	if err != nil {
		return nil, err
	}
	dial := p.Dial
	if dial == nil {
		dial = defaultDialer.DialContext
	}
	var first error
	for i, a := range addrs {
		actx, cancel := attemptContext(ctx, len(addrs)-i)
		conn, err := dial(actx, network, a.String())
		cancel()
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// attemptContext shares what is left of ctx's deadline among the remaining
// addresses, as net.Dialer does, so one unresponsive address cannot use up
// the time of the others.
func attemptContext(ctx context.Context, remaining int) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok || remaining <= 1 {
		return context.WithCancel(ctx)
	}
	share := time.Until(deadline) / time.Duration(remaining)
	const floor = 2 * time.Second
	if share < floor {
		share = floor
	}
	return context.WithTimeout(ctx, share)
}

// Resolve returns the addresses to dial for address ("host:port") if the
// policy allows every one of them, and a *RefusedError otherwise. A host
// name with only some addresses refused is refused as a whole: which one
// a connection would use is not the tenant's to choose.
func (p *Policy) Resolve(ctx context.Context, network, address string) ([]netip.AddrPort, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("invalid port %q", portStr)
	}
	ipNet := "ip"
	switch network {
	case "tcp", "udp":
	case "tcp4", "udp4":
		ipNet = "ip4"
	case "tcp6", "udp6":
		ipNet = "ip6"
	default:
		return nil, &RefusedError{Host: host, Reason: "network " + network + " is not allowed"}
	}

	if ip, err := netip.ParseAddr(host); err == nil {
		ip = canonical(ip)
		if reason := p.refusal(ip, uint16(port)); reason != "" {
			return nil, &RefusedError{Host: host, Reason: ip.String() + " is " + reason}
		}
		return []netip.AddrPort{netip.AddrPortFrom(ip, uint16(port))}, nil
	}
	name := normalizeHost(host)
	if name == "" || looksNumeric(name) {
		// Resolvers disagree on names like "2130706433" or "0x7f000001":
		// getaddrinfo reads them as 127.0.0.1, DNS as names. No real host
		// has one, so the ambiguity is refused rather than resolved.
		return nil, &RefusedError{Host: host, Reason: "it is not a host name nor an IP address in standard notation"}
	}
	byName := p.Allow.allowsHost(name, uint16(port))
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ips, err := r.LookupNetIP(ctx, ipNet, name)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]netip.AddrPort, 0, len(ips))
	for _, ip := range ips {
		ip = canonical(ip)
		if !byName {
			if reason := p.refusal(ip, uint16(port)); reason != "" {
				return nil, &RefusedError{Host: host, Reason: "it resolves to " + reason}
			}
		}
		out = append(out, netip.AddrPortFrom(ip, uint16(port)))
	}
	return out, nil
}

// CheckHost checks host (a name or a literal address, as in a URL) and port
// as DialContext would, without connecting: a literal address is checked as
// it is, a host name is resolved.
func (p *Policy) CheckHost(ctx context.Context, host string, port uint16) error {
	_, err := p.Resolve(ctx, "tcp", net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(int(port))))
	return err
}

// IsRefused reports whether err is, or wraps, a refusal of the policy.
func IsRefused(err error) (*RefusedError, bool) {
	var re *RefusedError
	ok := errors.As(err, &re)
	return re, ok
}

// refusal returns why ip:port is refused ("" when allowed).
func (p *Policy) refusal(ip netip.Addr, port uint16) string {
	if p.Allow.allowsAddr(ip, port) {
		return ""
	}
	return Classify(ip)
}

// canonical unmaps IPv4-mapped IPv6 addresses (::ffff:127.0.0.1 is
// 127.0.0.1 on the wire) and drops zones, which prefixes never contain.
func canonical(ip netip.Addr) netip.Addr { return ip.Unmap().WithZone("") }

// normalizeHost lowercases a host name and drops a trailing dot.
func normalizeHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}

// looksNumeric reports whether a host name's last label is a number in any
// of the bases inet_aton accepts, which no DNS top-level domain is.
func looksNumeric(name string) bool {
	last := name[strings.LastIndexByte(name, '.')+1:]
	if last == "" {
		return false
	}
	digits := last
	if len(last) > 2 && (last[:2] == "0x") {
		digits = last[2:]
		for _, c := range digits {
			if !strings.ContainsRune("0123456789abcdef", c) {
				return false
			}
		}
		return true
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

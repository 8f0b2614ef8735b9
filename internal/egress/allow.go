package egress

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Allow is what an operator allows besides public addresses.
type Allow []Rule

// Rule allows one network, address or host name, on every port or one.
type Rule struct {
	// Prefix is the network an address rule allows (a single address is a
	// /32 or /128). Invalid for a host name rule.
	Prefix netip.Prefix
	// Host is the host name a name rule allows, lowercase without a
	// trailing dot: requests to this exact name are allowed whatever it
	// resolves to.
	Host string
	// Port restricts the rule to one port; 0 means every port.
	Port uint16
}

func (r Rule) String() string {
	h := r.Host
	if r.Prefix.IsValid() {
		h = r.Prefix.String()
		if r.Prefix.IsSingleIP() {
			h = r.Prefix.Addr().String()
		}
	}
	if r.Port == 0 {
		return h
	}
	return net.JoinHostPort(h, strconv.Itoa(int(r.Port)))
}

// ParseAllow reads a comma-separated list of rules (see ParseRule). Blank
// entries are ignored.
func ParseAllow(s string) (Allow, error) {
	var a Allow
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		r, err := ParseRule(f)
		if err != nil {
			return nil, err
		}
		a = append(a, r)
	}
	return a, nil
}

// ParseRule reads one rule: a CIDR network ("10.0.0.0/8", "fd00::/8"), an
// address ("10.1.2.3", "::1"), or a host name ("crm.internal"); an address
// or host name may carry a port ("127.0.0.1:8081", "[::1]:8081",
// "crm.internal:8443") to allow only that port.
func ParseRule(s string) (Rule, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Addr().Zone() != "" {
			return Rule{}, fmt.Errorf("%q: a network must not have a zone", s)
		}
		if p.Addr().Is4In6() {
			// Connections are checked on unmapped addresses, so an
			// IPv4-mapped network must be given as its IPv4 network.
			if p.Bits() < 96 {
				return Rule{}, fmt.Errorf("%q: write IPv4-mapped networks as IPv4 networks", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return Rule{Prefix: p.Masked()}, nil
	}
	host, port := s, uint16(0)
	if h, ps, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.ParseUint(ps, 10, 16)
		if err != nil || n == 0 {
			return Rule{}, fmt.Errorf("%q: %q is not a port", s, ps)
		}
		host, port = h, uint16(n)
	} else if strings.HasPrefix(s, "[") {
		return Rule{}, fmt.Errorf("%q: an IPv6 address in brackets needs a port", s)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return Rule{}, fmt.Errorf("%q: an address must not have a zone", s)
		}
		ip = ip.Unmap()
		return Rule{Prefix: netip.PrefixFrom(ip, ip.BitLen()), Port: port}, nil
	}
	name := normalizeHost(host)
	if !validHostName(name) || looksNumeric(name) {
		return Rule{}, fmt.Errorf("%q is not a network, an address or a host name", s)
	}
	return Rule{Host: name, Port: port}, nil
}

// validHostName accepts letters, digits, hyphens and underscores in
// non-empty dot-separated labels that do not start or end with a hyphen.
func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func (a Allow) allowsAddr(ip netip.Addr, port uint16) bool {
	for _, r := range a {
		if r.Prefix.IsValid() && r.Prefix.Contains(ip) && (r.Port == 0 || r.Port == port) {
			return true
		}
	}
	return false
}

func (a Allow) allowsHost(name string, port uint16) bool {
	for _, r := range a {
		if r.Host != "" && r.Host == name && (r.Port == 0 || r.Port == port) {
			return true
		}
	}
	return false
}

package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr string
		want string // "" = public
	}{
		{"127.0.0.1", "a loopback address"},
		{"127.255.255.254", "a loopback address"},
		{"::1", "a loopback address"},
		{"::ffff:127.0.0.1", "a loopback address"},
		{"10.1.2.3", "a private address"},
		{"172.16.0.1", "a private address"},
		{"172.31.255.255", "a private address"},
		{"192.168.1.1", "a private address"},
		{"::ffff:192.168.1.1", "a private address"},
		{"fc00::1", "a private address"},
		{"fd12:3456::1", "a private address"},
		{"169.254.169.254", "a link-local address"},
		{"::ffff:169.254.169.254", "a link-local address"},
		{"fe80::1", "a link-local address"},
		{"fe80::1%eth0", "a link-local address"},
		{"100.64.0.1", "a shared (carrier-grade NAT) address"},
		{"100.127.255.255", "a shared (carrier-grade NAT) address"},
		{"224.0.0.1", "a multicast address"},
		{"239.255.255.250", "a multicast address"},
		{"ff02::1", "a multicast address"},
		{"ff0e::1", "a multicast address"},
		{"0.0.0.0", "the unspecified address"},
		{"::", "the unspecified address"},
		{"::ffff:0.0.0.0", "the unspecified address"},
		{"0.1.2.3", `a "this network" address`},
		{"255.255.255.255", "a reserved or broadcast address"},
		{"240.0.0.1", "a reserved or broadcast address"},
		{"192.0.0.8", "a reserved address"},
		{"192.0.2.1", "a documentation address"},
		{"198.51.100.1", "a documentation address"},
		{"203.0.113.1", "a documentation address"},
		{"198.18.0.1", "a benchmarking address"},
		{"::7f00:1", "a reserved address"},         // IPv4-compatible ::127.0.0.1
		{"64:ff9b::7f00:1", "a reserved address"},  // NAT64 of 127.0.0.1
		{"100::1", "a reserved address"},           // discard-only
		{"fec0::1", "a reserved address"},          // site-local
		{"2001::7f00:1", "a reserved address"},     // Teredo
		{"2002:7f00:1::1", "a 6to4 address"},       // 6to4 of 127.0.0.1
		{"2001:db8::1", "a documentation address"}, // documentation
		{"3fff::1", "a documentation address"},
		{"1.1.1.1", ""},
		{"93.184.215.14", ""},
		{"100.128.0.1", ""},
		{"172.32.0.1", ""},
		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4001::1", ""},
	} {
		if got := Classify(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Classify(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
	if got := Classify(netip.Addr{}); got == "" {
		t.Error("the zero Addr is classified public")
	}
}

func TestParseAllow(t *testing.T) {
	t.Parallel()
	a, err := ParseAllow(" 10.0.0.0/8 ,, 127.0.0.1:8081, CRM.Internal., [::1]:9000, fd00::/8, ::ffff:192.168.0.0/112, 192.168.1.7, crm.internal:8443 ")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range a {
		got = append(got, r.String())
	}
	want := "10.0.0.0/8 127.0.0.1:8081 crm.internal [::1]:9000 fd00::/8 192.168.0.0/16 192.168.1.7 crm.internal:8443"
	if strings.Join(got, " ") != want {
		t.Errorf("ParseAllow = %q, want %q", strings.Join(got, " "), want)
	}
	if a, err := ParseAllow(""); err != nil || a != nil {
		t.Errorf("ParseAllow(\"\") = %v, %v", a, err)
	}
	for _, bad := range []string{
		"10.0.0.0/33", "10.0.0.1/8/8", "crm internal", "crm.internal:0", "crm.internal:http", "crm.internal:70000",
		"[::1]", "fe80::1%eth0", "fe80::%eth0/64", "2130706433", "0x7f000001", "a..b", "::ffff:0:0/80", "-",
	} {
		if _, err := ParseAllow("10.0.0.0/8," + bad); err == nil {
			t.Errorf("ParseAllow accepts %q", bad)
		}
	}
}

// table is a Resolver answering from a map and counting lookups.
type table struct {
	mu      sync.Mutex
	hosts   map[string][]string
	lookups []string
}

func (r *table) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lookups = append(r.lookups, network+" "+host)
	addrs, ok := r.hosts[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

// dialRecorder records dials and connects none: it hands back one end of a
// pipe, so no packet is sent anywhere.
type dialRecorder struct {
	mu    sync.Mutex
	dials []string
	fail  map[string]bool // addresses whose dial fails
}

func (d *dialRecorder) dial(_ context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dials = append(d.dials, network+" "+address)
	if d.fail[address] {
		return nil, errors.New("connection refused")
	}
	c1, c2 := net.Pipe()
	c2.Close()
	return c1, nil
}

func TestDialContext(t *testing.T) {
	t.Parallel()
	hosts := map[string][]string{
		"public.test":   {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
		"private.test":  {"10.0.0.5"},
		"mixed.test":    {"93.184.215.14", "127.0.0.1"},
		"mapped.test":   {"::ffff:169.254.169.254"},
		"allowed.test":  {"10.9.9.9"},
		"fallback.test": {"93.184.215.14", "93.184.215.15"},
	}
	policy := func(allow string) (*Policy, *table, *dialRecorder) {
		a, err := ParseAllow(allow)
		if err != nil {
			t.Fatal(err)
		}
		r := &table{hosts: hosts}
		d := &dialRecorder{fail: map[string]bool{"93.184.215.14:443": true}}
		return &Policy{Allow: a, Resolver: r, Dial: d.dial}, r, d
	}

	for _, tc := range []struct {
		name, allow, addr string
		wantDials         []string // nil: refused
		wantReason        string
		wantLookup        bool
	}{
		{name: "public literal", addr: "93.184.215.14:80", wantDials: []string{"tcp 93.184.215.14:80"}},
		{name: "public name dials the checked address", addr: "public.test:80", wantLookup: true,
			wantDials: []string{"tcp 93.184.215.14:80"}},
		{name: "falls back to the next address", addr: "fallback.test:443", wantLookup: true,
			wantDials: []string{"tcp 93.184.215.14:443", "tcp 93.184.215.15:443"}},
		{name: "loopback literal", addr: "127.0.0.1:80", wantReason: "127.0.0.1 is a loopback address"},
		{name: "loopback v6", addr: "[::1]:80", wantReason: "::1 is a loopback address"},
		{name: "mapped loopback", addr: "[::ffff:127.0.0.1]:80", wantReason: "127.0.0.1 is a loopback address"},
		{name: "unspecified", addr: "0.0.0.0:80", wantReason: "0.0.0.0 is the unspecified address"},
		{name: "metadata", addr: "169.254.169.254:80", wantReason: "link-local"},
		{name: "shared", addr: "100.64.1.1:80", wantReason: "shared"},
		{name: "decimal", addr: "2130706433:80", wantReason: "not a host name"},
		{name: "hex", addr: "0x7f000001:80", wantReason: "not a host name"},
		{name: "octal", addr: "0177.0.0.1:80", wantReason: "not a host name"},
		{name: "name resolving to private", addr: "private.test:80", wantLookup: true, wantReason: "it resolves to a private address"},
		{name: "name resolving partly to loopback", addr: "mixed.test:80", wantLookup: true, wantReason: "it resolves to a loopback address"},
		{name: "name resolving to mapped link-local", addr: "mapped.test:80", wantLookup: true, wantReason: "it resolves to a link-local address"},
		{name: "allowed network", allow: "10.0.0.0/8", addr: "10.1.2.3:443", wantDials: []string{"tcp 10.1.2.3:443"}},
		{name: "allowed network via name", allow: "10.0.0.0/8", addr: "private.test:80", wantLookup: true, wantDials: []string{"tcp 10.0.0.5:80"}},
		{name: "allowed network does not allow others", allow: "10.0.0.0/8", addr: "192.168.0.1:80", wantReason: "private"},
		{name: "allowed address and port", allow: "127.0.0.1:8081", addr: "127.0.0.1:8081", wantDials: []string{"tcp 127.0.0.1:8081"}},
		{name: "allowed address, other port", allow: "127.0.0.1:8081", addr: "127.0.0.1:8082", wantReason: "loopback"},
		{name: "allowed host name", allow: "Allowed.Test", addr: "allowed.test.:80", wantLookup: true, wantDials: []string{"tcp 10.9.9.9:80"}},
		{name: "allowed host name, other port", allow: "allowed.test:443", addr: "allowed.test:80", wantLookup: true, wantReason: "private"},
		{name: "host name rule is not an address rule", allow: "allowed.test", addr: "10.9.9.9:80", wantReason: "private"},
		{name: "zone", addr: "[fe80::1%eth0]:80", wantReason: "link-local"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, r, d := policy(tc.allow)
			conn, err := p.DialContext(t.Context(), "tcp", tc.addr)
			if conn != nil {
				conn.Close()
			}
			if tc.wantDials != nil {
				if err != nil {
					t.Fatalf("DialContext: %v", err)
				}
			} else {
				re, ok := IsRefused(fmt.Errorf("wrapped: %w", err))
				if !ok || !strings.Contains(re.Reason, tc.wantReason) {
					t.Fatalf("error %v, want a refusal saying %q", err, tc.wantReason)
				}
				if host, _, _ := net.SplitHostPort(tc.addr); re.Host != host {
					t.Errorf("refusal names %q, want %q", re.Host, host)
				}
				if tc.wantLookup && strings.ContainsAny(re.Error(), "0123456789") {
					t.Errorf("refusal %q tells what a name resolves to", re)
				}
			}
			if fmt.Sprint(d.dials) != fmt.Sprint(tc.wantDials) {
				t.Errorf("dials %q, want %q", d.dials, tc.wantDials)
			}
			if (len(r.lookups) > 0) != tc.wantLookup {
				t.Errorf("lookups %q, want lookup %v", r.lookups, tc.wantLookup)
			}
		})
	}

	t.Run("lookup failures are not refusals", func(t *testing.T) {
		t.Parallel()
		p, _, d := policy("")
		_, err := p.DialContext(t.Context(), "tcp", "unknown.test:80")
		var dnsErr *net.DNSError
		if _, refused := IsRefused(err); refused || !errors.As(err, &dnsErr) || len(d.dials) != 0 {
			t.Fatalf("error %v (refused %v), dials %q", err, refused, d.dials)
		}
	})

	t.Run("tcp4 looks up IPv4 only", func(t *testing.T) {
		t.Parallel()
		p, r, _ := policy("")
		if c, err := p.DialContext(t.Context(), "tcp4", "public.test:80"); err == nil {
			c.Close()
		}
		if fmt.Sprint(r.lookups) != "[ip4 public.test]" {
			t.Errorf("lookups %q", r.lookups)
		}
	})

	t.Run("other networks are refused", func(t *testing.T) {
		t.Parallel()
		p, _, d := policy("")
		if _, err := p.DialContext(t.Context(), "unix", "/run/postgresql/.s.PGSQL.5432"); err == nil || len(d.dials) != 0 {
			t.Fatalf("unix dial: %v, dials %q", err, d.dials)
		}
	})

	t.Run("CheckHost checks like a dial, without one", func(t *testing.T) {
		t.Parallel()
		p, _, d := policy("")
		for host, refused := range map[string]bool{"[::1]": true, "::1": true, "private.test": true, "public.test": false, "93.184.215.14": false} {
			err := p.CheckHost(t.Context(), host, 443)
			if _, ok := IsRefused(err); ok != refused || !refused && err != nil {
				t.Errorf("CheckHost(%s) = %v, want refused %v", host, err, refused)
			}
		}
		if len(d.dials) != 0 {
			t.Errorf("dials %q", d.dials)
		}
	})
}

// TestHTTPThroughPolicy drives a real HTTP client through the policy to a
// loopback server: refused by default, reached when allowed.
func TestHTTPThroughPolicy(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "INTERNAL-SECRET")
	}))
	t.Cleanup(srv.Close)
	var d net.Dialer
	guard := func(ctx context.Context, network, address string) (net.Conn, error) {
		if ap, err := netip.ParseAddrPort(address); err != nil || !ap.Addr().IsLoopback() {
			t.Errorf("dial to %s", address)
			return nil, errors.New("not loopback")
		}
		return d.DialContext(ctx, network, address)
	}
	get := func(p *Policy) (string, error) {
		c := &http.Client{Transport: &http.Transport{DialContext: p.DialContext}}
		resp, err := c.Get(srv.URL)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}

	body, err := get(&Policy{Dial: guard})
	if _, ok := IsRefused(err); !ok || body != "" {
		t.Fatalf("default policy: %q, %v; want a refusal", body, err)
	}
	allow, err := ParseAllow(strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if body, err := get(&Policy{Allow: allow, Dial: guard}); err != nil || body != "INTERNAL-SECRET" {
		t.Fatalf("allowed: %q, %v", body, err)
	}
}

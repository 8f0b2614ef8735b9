package config

import (
	"strings"
	"testing"
)

func TestEgressAllowFromEnv(t *testing.T) {
	t.Parallel()
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "INTAKE_EGRESS_ALLOW" {
				return v
			}
			return ""
		}
	}

	t.Run("unset allows nothing more", func(t *testing.T) {
		t.Parallel()
		c, err := FromEnv(env(""))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.EgressAllow) != 0 {
			t.Fatalf("EgressAllow = %v, want empty", c.EgressAllow)
		}
	})

	t.Run("networks, addresses and host names", func(t *testing.T) {
		t.Parallel()
		c, err := FromEnv(env(" 10.0.0.0/8, crm.internal ,127.0.0.1:8081,"))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range c.EgressAllow {
			got = append(got, r.String())
		}
		if strings.Join(got, " ") != "10.0.0.0/8 crm.internal 127.0.0.1:8081" {
			t.Fatalf("EgressAllow = %v", got)
		}
	})

	for _, bad := range []string{"10.0.0.0/33", "not a host", "crm.internal:http", "[::1]"} {
		t.Run("refuses "+bad, func(t *testing.T) {
			t.Parallel()
			_, err := FromEnv(env(bad))
			if err == nil || !strings.HasPrefix(err.Error(), "INTAKE_EGRESS_ALLOW: ") {
				t.Fatalf("error = %v, want one naming INTAKE_EGRESS_ALLOW", err)
			}
		})
	}
}

package config

import (
	"strings"
	"testing"

	"github.com/intake/intake/internal/store"
)

func TestDBMaxConns(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	for _, tc := range []struct {
		value string
		want  int
	}{{"", 20}, {"2", 2}, {" 64 ", 64}, {"1000", 1000}} {
		c, err := FromEnv(env(map[string]string{"INTAKE_DB_MAX_CONNS": tc.value}))
		if err != nil || c.DBMaxConns != tc.want {
			t.Errorf("INTAKE_DB_MAX_CONNS=%q: %d, %v; want %d", tc.value, c.DBMaxConns, err, tc.want)
		}
	}
	for _, bad := range []string{"1", "1001", "many", "-3"} {
		_, err := FromEnv(env(map[string]string{"INTAKE_DB_MAX_CONNS": bad}))
		if err == nil || !strings.Contains(err.Error(), "INTAKE_DB_MAX_CONNS") {
			t.Errorf("INTAKE_DB_MAX_CONNS=%q: %v, want an error naming the variable", bad, err)
		}
	}
}

func TestDBStatementCache(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	for _, tc := range []struct {
		value string
		want  int
	}{{"", store.DefaultStatementCache}, {"0", 0}, {" 64 ", 64}, {"100000", 100000}} {
		c, err := FromEnv(env(map[string]string{"INTAKE_DB_STATEMENT_CACHE": tc.value}))
		if err != nil || c.DBStmtCache != tc.want {
			t.Errorf("INTAKE_DB_STATEMENT_CACHE=%q: %d, %v; want %d", tc.value, c.DBStmtCache, err, tc.want)
		}
	}
	for _, bad := range []string{"100001", "some", "-1"} {
		_, err := FromEnv(env(map[string]string{"INTAKE_DB_STATEMENT_CACHE": bad}))
		if err == nil || !strings.Contains(err.Error(), "INTAKE_DB_STATEMENT_CACHE") {
			t.Errorf("INTAKE_DB_STATEMENT_CACHE=%q: %v, want an error naming the variable", bad, err)
		}
	}
}

func TestGCPercent(t *testing.T) {
	c, err := FromEnv(func(string) string { return "" })
	if err != nil || c.GCPercent != DefaultGCPercent {
		t.Errorf("without GOGC: GCPercent %d, %v; want %d", c.GCPercent, err, DefaultGCPercent)
	}
	// The runtime has read GOGC itself: Intake leaves it as it is.
	c, err = FromEnv(func(k string) string {
		if k == "GOGC" {
			return "100"
		}
		return ""
	})
	if err != nil || c.GCPercent != 0 {
		t.Errorf("with GOGC=100: GCPercent %d, %v; want 0", c.GCPercent, err)
	}
}

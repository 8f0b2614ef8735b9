package config

import (
	"strings"
	"testing"
	"time"
)

func TestWebsocketFromEnv(t *testing.T) {
	t.Parallel()
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}

	t.Run("unset: the server's defaults", func(t *testing.T) {
		c, err := FromEnv(env(nil))
		if err != nil {
			t.Fatal(err)
		}
		if c.Websocket != (Websocket{}) {
			t.Fatalf("websocket limits %+v, want all zero", c.Websocket)
		}
	})

	t.Run("every variable is read", func(t *testing.T) {
		c, err := FromEnv(env(map[string]string{
			"INTAKE_WS_INIT_TIMEOUT":            "5s",
			"INTAKE_WS_PING_INTERVAL":           "30s",
			"INTAKE_WS_PONG_TIMEOUT":            "20s",
			"INTAKE_WS_WRITE_TIMEOUT":           "15s",
			"INTAKE_WS_MAX_SUBSCRIPTIONS":       "10",
			"INTAKE_WS_MAX_CONNECTIONS_PER_KEY": "3",
		}))
		if err != nil {
			t.Fatal(err)
		}
		want := Websocket{
			InitTimeout: 5 * time.Second, PingInterval: 30 * time.Second, PongTimeout: 20 * time.Second, WriteTimeout: 15 * time.Second,
			MaxSubscriptions: 10, MaxConnectionsPerKey: 3,
		}
		if c.Websocket != want {
			t.Fatalf("websocket limits %+v, want %+v", c.Websocket, want)
		}
	})

	t.Run("a bad value is an error naming its variable", func(t *testing.T) {
		for name, value := range map[string]string{
			"INTAKE_WS_INIT_TIMEOUT":            "500ms",
			"INTAKE_WS_PING_INTERVAL":           "often",
			"INTAKE_WS_PONG_TIMEOUT":            "-1s",
			"INTAKE_WS_WRITE_TIMEOUT":           "0s",
			"INTAKE_WS_MAX_SUBSCRIPTIONS":       "0",
			"INTAKE_WS_MAX_CONNECTIONS_PER_KEY": "many",
		} {
			_, err := FromEnv(env(map[string]string{name: value}))
			if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), value) {
				t.Errorf("%s=%s: %v, want an error naming the variable and its value", name, value, err)
			}
		}
	})
}

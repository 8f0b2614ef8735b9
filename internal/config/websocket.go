package config

import "time"

// Websocket holds the websocket limits (INTAKE_WS_*). A zero field was not
// set and takes the server's default (server.WebsocketLimits); the fields
// match that type's, so one converts to the other.
type Websocket struct {
	InitTimeout          time.Duration // INTAKE_WS_INIT_TIMEOUT: time to send connection_init (default 10s)
	PingInterval         time.Duration // INTAKE_WS_PING_INTERVAL: ping control frames (default 15s)
	PongTimeout          time.Duration // INTAKE_WS_PONG_TIMEOUT: time to answer a ping (default 10s)
	WriteTimeout         time.Duration // INTAKE_WS_WRITE_TIMEOUT: time a peer has to take one message (default 10s)
	MaxSubscriptions     int           // INTAKE_WS_MAX_SUBSCRIPTIONS: per socket (default 100)
	MaxConnectionsPerKey int           // INTAKE_WS_MAX_CONNECTIONS_PER_KEY: per API key and process (default 50)
}

func websocketFromEnv(getenv func(string) string) (Websocket, error) {
	var w Websocket
	var err error
	if w.InitTimeout, err = durationVar(getenv, "INTAKE_WS_INIT_TIMEOUT", 0, time.Second); err != nil {
		return w, err
	}
	if w.PingInterval, err = durationVar(getenv, "INTAKE_WS_PING_INTERVAL", 0, time.Second); err != nil {
		return w, err
	}
	if w.PongTimeout, err = durationVar(getenv, "INTAKE_WS_PONG_TIMEOUT", 0, time.Second); err != nil {
		return w, err
	}
	if w.WriteTimeout, err = durationVar(getenv, "INTAKE_WS_WRITE_TIMEOUT", 0, time.Second); err != nil {
		return w, err
	}
	if w.MaxSubscriptions, err = intVar(getenv, "INTAKE_WS_MAX_SUBSCRIPTIONS", 0, 1, 10_000); err != nil {
		return w, err
	}
	if w.MaxConnectionsPerKey, err = intVar(getenv, "INTAKE_WS_MAX_CONNECTIONS_PER_KEY", 0, 1, 100_000); err != nil {
		return w, err
	}
	return w, nil
}

package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits bound each GraphQL request (see server.Limits, which has the same
// fields: main converts one into the other). Zero means the server's
// default, except RatePerSecond, where zero turns the rate limit off.
type Limits struct {
	Complexity    int           // INTAKE_MAX_COMPLEXITY
	Depth         int           // INTAKE_MAX_DEPTH
	Aliases       int           // INTAKE_MAX_ALIASES
	BodyBytes     int64         // INTAKE_MAX_BODY_BYTES
	MessageBytes  int64         // INTAKE_MAX_WS_MESSAGE_BYTES
	Timeout       time.Duration // INTAKE_REQUEST_TIMEOUT
	RatePerSecond float64       // INTAKE_RATE_LIMIT; default 20, 0 = off
	RateBurst     int           // INTAKE_RATE_BURST
	Concurrent    int           // INTAKE_MAX_CONCURRENT_REQUESTS
}

// defaultRate is the production rate limit per API key, in requests a
// second: ample for a frontend or a partner's integration, and a ceiling
// on what one leaked or runaway key can cost.
const defaultRate = 20

func limitsFromEnv(getenv func(string) string) (Limits, error) {
	var l Limits
	var err error
	if l.Complexity, err = intVar(getenv, "INTAKE_MAX_COMPLEXITY", 0, 1, 1<<30); err != nil {
		return l, err
	}
	if l.Depth, err = intVar(getenv, "INTAKE_MAX_DEPTH", 0, 1, 1000); err != nil {
		return l, err
	}
	if l.Aliases, err = intVar(getenv, "INTAKE_MAX_ALIASES", 0, 1, 10_000); err != nil {
		return l, err
	}
	if l.BodyBytes, err = bytesVar(getenv, "INTAKE_MAX_BODY_BYTES"); err != nil {
		return l, err
	}
	if l.MessageBytes, err = bytesVar(getenv, "INTAKE_MAX_WS_MESSAGE_BYTES"); err != nil {
		return l, err
	}
	if l.Timeout, err = durationVar(getenv, "INTAKE_REQUEST_TIMEOUT", 0, 100*time.Millisecond); err != nil {
		return l, err
	}
	l.RatePerSecond = defaultRate
	if v := strings.TrimSpace(getenv("INTAKE_RATE_LIMIT")); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 || r > 1e6 {
			return l, fmt.Errorf("INTAKE_RATE_LIMIT: %q must be a number of requests a second from 0 (no limit) to 1000000", v)
		}
		l.RatePerSecond = r
	}
	if l.RateBurst, err = intVar(getenv, "INTAKE_RATE_BURST", 0, 1, 1_000_000); err != nil {
		return l, err
	}
	if l.Concurrent, err = intVar(getenv, "INTAKE_MAX_CONCURRENT_REQUESTS", 0, 1, 100_000); err != nil {
		return l, err
	}
	return l, nil
}

// bytesVar reads a size in bytes from 1 KiB to 1 GiB; unset is 0.
func bytesVar(getenv func(string) string, name string) (int64, error) {
	n, err := intVar(getenv, name, 0, 1<<10, 1<<30)
	return int64(n), err
}

// Package config reads Intake's configuration from the environment. Every
// variable is documented in README.md; a bad value is an error naming it.
package config

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Config is the process configuration.
type Config struct {
	DatabaseURL    string     // DATABASE_URL; empty = embedded SQLite
	DataDir        string     // INTAKE_DATA_DIR; default "."
	Addr           string     // INTAKE_ADDR; default 127.0.0.1:8080
	EncryptionKey  string     // INTAKE_ENCRYPTION_KEY
	AllowedOrigins []string   // INTAKE_ALLOWED_ORIGINS, comma-separated
	Introspection  bool       // INTAKE_INTROSPECTION; default on only with SQLite
	LogFormat      string     // INTAKE_LOG_FORMAT: json (default) or text
	LogLevel       slog.Level // INTAKE_LOG_LEVEL: debug, info (default), warn, error
	PublicURL      string     // INTAKE_PUBLIC_URL: external origin webhooks are signed for
	SandboxAddr    string     // INTAKE_SANDBOX_ADDR: where `sandbox` and --demo serve the fakes
}

// Embedded reports whether the embedded SQLite default is used.
func (c Config) Embedded() bool {
	return c.DatabaseURL == "" || strings.HasPrefix(c.DatabaseURL, "sqlite:")
}

// KeyFile is where the embedded default keeps its generated encryption key.
func (c Config) KeyFile() string { return filepath.Join(c.DataDir, "intake.key") }

// FromEnv reads the configuration from getenv (os.Getenv in production).
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		DatabaseURL:   strings.TrimSpace(getenv("DATABASE_URL")),
		DataDir:       or(getenv("INTAKE_DATA_DIR"), "."),
		Addr:          or(getenv("INTAKE_ADDR"), "127.0.0.1:8080"),
		EncryptionKey: strings.TrimSpace(getenv("INTAKE_ENCRYPTION_KEY")),
		LogFormat:     or(getenv("INTAKE_LOG_FORMAT"), "json"),
		PublicURL:     strings.TrimRight(strings.TrimSpace(getenv("INTAKE_PUBLIC_URL")), "/"),
		SandboxAddr:   or(getenv("INTAKE_SANDBOX_ADDR"), "127.0.0.1:8081"),
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		return c, fmt.Errorf("INTAKE_PUBLIC_URL: %q must start with http:// or https://", c.PublicURL)
	}
	for _, o := range strings.Split(getenv("INTAKE_ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			if !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
				return c, fmt.Errorf("INTAKE_ALLOWED_ORIGINS: %q must start with http:// or https://", o)
			}
			c.AllowedOrigins = append(c.AllowedOrigins, o)
		}
	}
	c.Introspection = c.Embedded()
	if v := getenv("INTAKE_INTROSPECTION"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("INTAKE_INTROSPECTION: %q is not a boolean", v)
		}
		c.Introspection = b
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return c, fmt.Errorf("INTAKE_LOG_FORMAT: %q must be json or text", c.LogFormat)
	}
	if v := getenv("INTAKE_LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return c, fmt.Errorf("INTAKE_LOG_LEVEL: %q must be debug, info, warn or error", v)
		}
	}
	if !c.Embedded() && c.EncryptionKey == "" {
		return c, fmt.Errorf("INTAKE_ENCRYPTION_KEY: required with a PostgreSQL DATABASE_URL (32 bytes, base64)")
	}
	return c, nil
}

// Logger returns the process logger.
func (c Config) Logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

func or(v, def string) string {
	if v = strings.TrimSpace(v); v != "" {
		return v
	}
	return def
}

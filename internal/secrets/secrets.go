// Package secrets encrypts integration credentials at rest with AES-256-GCM.
//
// A sealed value is "v1:" + key ID + ":" + nonce + ciphertext. The key ID
// lets keys rotate: the first key seals, every configured key opens. The
// associated data binds a ciphertext to the row it belongs to, so a value
// copied into another row does not open.
package secrets

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of an AES-256 key.
const KeySize = 32

// Box seals and opens secrets.
type Box struct {
	current string
	aeads   map[string]cipher.AEAD
}

// ErrNoKey is returned by Open for a value sealed with an unknown key.
var ErrNoKey = errors.New("secrets: sealed with a key that is not configured")

// Parse builds a Box from INTAKE_ENCRYPTION_KEY's format: one or more
// comma-separated keys, each "base64" or "id:base64" (32 bytes, standard or
// URL base64). The first key seals new values.
func Parse(spec string) (*Box, error) {
	b := &Box{aeads: map[string]cipher.AEAD{}}
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		id, enc, named := strings.Cut(part, ":")
		if !named {
			id, enc = "", part
		}
		key, err := decodeKey(enc)
		if err != nil {
			return nil, fmt.Errorf("INTAKE_ENCRYPTION_KEY: key %d: %w", i+1, err)
		}
		if id == "" {
			sum := sha256.Sum256(key)
			id = hex.EncodeToString(sum[:4])
		}
		if strings.ContainsAny(id, " \t") {
			return nil, fmt.Errorf("INTAKE_ENCRYPTION_KEY: key %d: id must not contain spaces", i+1)
		}
		if _, dup := b.aeads[id]; dup {
			return nil, fmt.Errorf("INTAKE_ENCRYPTION_KEY: key id %q given twice", id)
		}
		aead, err := newAEAD(key)
		if err != nil {
			return nil, err
		}
		b.aeads[id] = aead
		if b.current == "" {
			b.current = id
		}
	}
	return b, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("must decode to %d bytes, got %d", KeySize, len(k))
			}
			return k, nil
		}
	}
	return nil, errors.New("must be base64")
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return cipher.NewGCM(block)
}

// LoadOrCreateKeyFile reads a key file, or creates one with a new random
// key (mode 0600). The embedded default uses it when no key is configured.
func LoadOrCreateKeyFile(path string) (*Box, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, KeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		data = []byte(base64.StdEncoding.EncodeToString(key) + "\n")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("creating key file: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) { // another process won the race
			return LoadOrCreateKeyFile(path)
		}
		if err != nil {
			return nil, fmt.Errorf("creating key file: %w", err)
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return nil, fmt.Errorf("writing key file: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("writing key file: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	return Parse(strings.TrimSpace(string(data)))
}

// Seal encrypts plaintext bound to ad (e.g. the row's ID).
func (b *Box) Seal(plaintext, ad []byte) ([]byte, error) {
	aead := b.aeads[b.current]
	out := make([]byte, 0, 4+len(b.current)+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out = append(out, "v1:"+b.current+":"...)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plaintext, ad), nil
}

// Open decrypts a value sealed with the same ad.
func (b *Box) Open(sealed, ad []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(sealed, []byte("v1:"))
	if !ok {
		return nil, errors.New("secrets: unknown format")
	}
	id, body, ok := bytes.Cut(rest, []byte(":"))
	if !ok {
		return nil, errors.New("secrets: unknown format")
	}
	aead, ok := b.aeads[string(id)]
	if !ok {
		return nil, ErrNoKey
	}
	if len(body) < aead.NonceSize() {
		return nil, errors.New("secrets: truncated value")
	}
	pt, err := aead.Open(nil, body[:aead.NonceSize()], body[aead.NonceSize():], ad)
	if err != nil {
		return nil, errors.New("secrets: value does not open (wrong key or row)")
	}
	return pt, nil
}

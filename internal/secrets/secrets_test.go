package secrets

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func newKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	box, err := Parse(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte(`{"apiKey":"canary-7f3a"}`)
	sealed, err := box.Seal(secret, []byte("int_1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("canary")) {
		t.Fatal("sealed value contains the plaintext")
	}
	t.Run("opens with the same row", func(t *testing.T) {
		got, err := box.Open(sealed, []byte("int_1"))
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("Open = %q, %v", got, err)
		}
	})
	t.Run("does not open for another row", func(t *testing.T) {
		if _, err := box.Open(sealed, []byte("int_2")); err == nil {
			t.Fatal("opened with another row's associated data")
		}
	})
	t.Run("does not open when tampered", func(t *testing.T) {
		bad := append([]byte(nil), sealed...)
		bad[len(bad)-1] ^= 1
		if _, err := box.Open(bad, []byte("int_1")); err == nil {
			t.Fatal("opened a tampered value")
		}
	})
	t.Run("unknown key", func(t *testing.T) {
		other, _ := Parse(newKey(t))
		if _, err := other.Open(sealed, []byte("int_1")); !errors.Is(err, ErrNoKey) {
			t.Fatalf("err = %v, want ErrNoKey", err)
		}
	})
}

func TestRotation(t *testing.T) {
	t.Parallel()
	oldKey, newK := newKey(t), newKey(t)
	oldBox, err := Parse("old:" + oldKey)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := oldBox.Seal([]byte("s"), nil)
	rotated, err := Parse("new:" + newK + ",old:" + oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Open(sealed, nil); err != nil || string(got) != "s" {
		t.Fatalf("old value after rotation: %q, %v", got, err)
	}
	fresh, _ := rotated.Seal([]byte("s"), nil)
	if !bytes.HasPrefix(fresh, []byte("v1:new:")) {
		t.Fatalf("new values must use the first key, got %q", fresh[:8])
	}
}

func TestParseRefusesBadKeys(t *testing.T) {
	t.Parallel()
	for name, spec := range map[string]string{
		"empty":      "",
		"not base64": "%%%",
		"short":      base64.StdEncoding.EncodeToString([]byte("short")),
		"dup id":     "a:" + newKey(t) + ",a:" + newKey(t),
	} {
		if _, err := Parse(spec); err == nil {
			t.Errorf("%s: Parse(%q) accepted", name, spec)
		}
	}
}

func TestKeyFileIsCreatedOnceAndPrivate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "intake.key")
	a, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v", fi.Mode(), err)
	}
	sealed, _ := a.Seal([]byte("x"), nil)
	b, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open(sealed, nil); err != nil {
		t.Fatalf("second load does not open the first's values: %v", err)
	}
}

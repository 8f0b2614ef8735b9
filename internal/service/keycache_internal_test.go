package service

import (
	"testing"
	"time"

	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
)

// A lookup that raced a revocation does not put the key back.
func TestKeyCacheRace(t *testing.T) {
	c := newKeyCache()
	now := time.Now()
	v := &viewer.Viewer{KeyID: pulid.New("key")}
	gen := c.generation() // the lookup begins, reads the key as valid ...
	c.evict(v.KeyID)      // ... the key is revoked meanwhile ...
	c.put("h", v, nil, gen, now)
	if _, ok := c.get("h", now); ok {
		t.Fatal("a lookup older than the revocation was cached")
	}
	c.put("h", v, nil, c.generation(), now)
	if _, ok := c.get("h", now.Add(KeyCacheTTL-time.Millisecond)); !ok {
		t.Fatal("a fresh lookup was not cached")
	}
	if _, ok := c.get("h", now.Add(KeyCacheTTL)); ok {
		t.Fatal("an entry outlived KeyCacheTTL")
	}
}

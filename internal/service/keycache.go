package service

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/intake/intake/internal/pulid"
	"github.com/intake/intake/internal/viewer"
	"github.com/intake/intake/sync/progress"
)

// KeyCacheTTL is how long a process trusts an API key it looked up
// without looking again (with Deps.CacheKeys). A revoked key leaves the
// cache of the process that revoked it at once, and of every other
// process when the revocation's notice arrives (milliseconds); KeyCacheTTL
// bounds what a lost notice leaves behind.
const KeyCacheTTL = 5 * time.Second

// keyCacheSize bounds the keys remembered; a full cache starts over.
const keyCacheSize = 10000

// keyCache remembers the viewers of API keys that authenticated, by the
// key's hash: every request carries its key, and looking it up was a
// query per request.
type keyCache struct {
	mu   sync.Mutex
	byID map[pulid.ID]string // key ID to hash
	keys map[string]cachedKey
	// gen counts evictions: a lookup that raced one is not cached.
	gen uint64
	off bool // Deps.CacheKeys unset: nothing is cached
}

type cachedKey struct {
	v       viewer.Viewer
	expires *time.Time // the key's own expiry
	until   time.Time  // trusted until
}

func newKeyCache() *keyCache {
	return &keyCache{byID: map[pulid.ID]string{}, keys: map[string]cachedKey{}}
}

// get returns the viewer of the key with hash h if it is cached, still
// trusted and not expired at now.
func (c *keyCache) get(h string, now time.Time) (*viewer.Viewer, bool) {
	c.mu.Lock()
	e, ok := c.keys[h]
	c.mu.Unlock()
	if !ok || !now.Before(e.until) || e.expires != nil && !now.Before(*e.expires) {
		return nil, false
	}
	v := e.v
	return &v, true
}

// generation is read before a lookup and handed to put.
func (c *keyCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches a key found valid by a lookup that began at generation gen,
// unless a key was evicted since.
func (c *keyCache) put(h string, v *viewer.Viewer, expires *time.Time, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.off || c.gen != gen {
		return
	}
	if len(c.keys) >= keyCacheSize {
		clear(c.keys)
		clear(c.byID)
	}
	c.keys[h] = cachedKey{v: *v, expires: expires, until: now.Add(KeyCacheTTL)}
	c.byID[v.KeyID] = h
}

// evict forgets key id; clear forgets every key.
func (c *keyCache) evict(id pulid.ID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if h, ok := c.byID[id]; ok {
		delete(c.keys, h)
		delete(c.byID, id)
	}
}

func (c *keyCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.keys)
	clear(c.byID)
}

// follow evicts the keys that notices on b say were revoked, in every
// process; a resync (notices may have been lost) clears the cache.
func (c *keyCache) follow(b progress.Broker) {
	sub := b.Subscribe(progress.APIKeysTopic)
	sub.OnReady(func() {
		for _, n := range sub.Drain() {
			switch n.Kind {
			case progress.KindAPIKey:
				c.evict(n.ID)
			default:
				c.clear()
			}
		}
	})
}

// revoked evicts key id here and tells the other processes.
func (s *Service) revoked(ctx context.Context, id pulid.ID) {
	s.keys.evict(id)
	if s.broker == nil {
		return
	}
	if err := s.broker.Publish(context.WithoutCancel(ctx), progress.Notice{Kind: progress.KindAPIKey, ID: id}); err != nil {
		// The other processes trust the key for KeyCacheTTL at most.
		s.log.WarnContext(ctx, "telling the other processes of a revoked API key", slog.String("key_id", string(id)), slog.Any("err", err))
	}
}

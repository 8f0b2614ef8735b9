package connector

import (
	"fmt"
	"slices"
	"sort"

	"github.com/intake/intake/schema/schematype"
)

// Registry holds the providers this process supports, in registration order.
// It is built once at start-up (main.go) and read-only afterwards.
type Registry struct {
	providers []Provider
}

// NewRegistry returns a registry of the given providers. Registering a key
// twice is a programming error and panics.
func NewRegistry(providers ...Provider) *Registry {
	r := &Registry{}
	for _, p := range providers {
		if _, ok := r.Get(p.Descriptor().Key); ok {
			panic(fmt.Sprintf("connector: provider %s registered twice", p.Descriptor().Key))
		}
		r.providers = append(r.providers, p)
	}
	return r
}

// Get returns the provider with the given key.
func (r *Registry) Get(key schematype.ProviderKey) (Provider, bool) {
	for _, p := range r.providers {
		if p.Descriptor().Key == key {
			return p, true
		}
	}
	return nil, false
}

// Descriptors returns every provider's descriptor in registration order.
func (r *Registry) Descriptors() []Descriptor {
	out := make([]Descriptor, len(r.providers))
	for i, p := range r.providers {
		out[i] = p.Descriptor()
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

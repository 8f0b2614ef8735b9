package hubspotfake

import (
	"slices"
	"sort"
	"time"
)

// Archived contacts. Deleting a contact in HubSpot archives it: it leaves
// the contact search, the contact list and reads by ID (404; a batch read
// reports it among the IDs it could not get), and is listed by
// GET /crm/v3/objects/contacts?archived=true with archived: true and its
// archivedAt, until it is restored or purged. List memberships keep it:
// readers must cope with members they cannot read.

// Archive archives the contact with the given ID at time at, as deleting
// it in HubSpot does. It reports whether such a live contact existed.
func (s *Server) Archive(id string, at time.Time) bool {
	i, ok := s.data.IndexOf(id)
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, done := s.archivedAt[i]; done {
		return false
	}
	s.archivedAt[i] = at.UTC()
	k, _ := slices.BinarySearch(s.archivedIdx, i)
	s.archivedIdx = slices.Insert(s.archivedIdx, k, i)
	return true
}

// isArchived reports whether person i is archived, and since when.
func (s *Server) isArchived(i int) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.archivedAt[i]
	return at, ok
}

// archivedIn counts the archived people with index in [lo, hi).
func (s *Server) archivedIn(lo, hi int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sort.SearchInts(s.archivedIdx, hi) - sort.SearchInts(s.archivedIdx, lo)
}

// liveAt returns the index of the k-th (from 0) live person of [lo, hi),
// counting from lo, or from hi-1 downwards when desc.
func (s *Server) liveAt(lo, hi, k int, desc bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !desc {
		i := lo + k
		for _, a := range s.archivedIdx[sort.SearchInts(s.archivedIdx, lo):] {
			if a > i {
				break
			}
			i++
		}
		return i
	}
	i := hi - 1 - k
	for j := sort.SearchInts(s.archivedIdx, hi) - 1; j >= 0; j-- {
		if a := s.archivedIdx[j]; a < i {
			break
		}
		i--
	}
	return i
}

// archivedPage returns the archived people from position after of the
// archive, in index order, at most limit, and whether more follow.
func (s *Server) archivedPage(after, limit int) (idx []int, at []time.Time, more bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	end := min(after+limit, len(s.archivedIdx))
	for _, i := range s.archivedIdx[min(after, end):end] {
		idx = append(idx, i)
		at = append(at, s.archivedAt[i])
	}
	return idx, at, end < len(s.archivedIdx)
}

package zvoove

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"strconv"

	"github.com/intake/intake/sync/connector"
)

// The zvoove spec does not say whether PageNumber counts from 0 or from 1,
// and documents the plain array lists (departments, v1 candidates) without
// paging metadata. Guessing the base wrong either skips the first page or
// reads one twice, so the walkers below learn it from the API instead.

// listPos is where a walk of an array list stands; it is part of the
// resume cursor of new_applications.
//
// Until the base is learned (Base < 0), Page 0 means that the first page,
// asked without PageNumber, is next, and Page 1 that the probe PageNumber=1
// is next, whose answer tells the base. Once the base is known, Page is the
// PageNumber to ask next.
type listPos struct {
	Base int `json:"b"`
	Page int `json:"p"`
	// Skip is how many entries of the next page were already visited.
	Skip int `json:"k,omitempty"`
	// Prev identifies the first entry of the page before the next one: a
	// page starting with it is that page again (an API ignoring PageNumber).
	Prev string `json:"h,omitempty"`
	// Done says the list was read to its end.
	Done bool `json:"d,omitempty"`
}

func (p listPos) valid() bool {
	return p.Base >= -1 && p.Base <= 1 && p.Page >= 0 && p.Skip >= 0 && (p.Base >= 0 || p.Page <= 1)
}

// startList is the position of a fresh walk.
var startList = listPos{Base: -1}

// entryKey identifies an entry by its bytes, to recognise a repeated page.
func entryKey(raw json.RawMessage) string {
	h := fnv.New64a()
	h.Write(raw)
	return strconv.FormatUint(h.Sum64(), 36)
}

// walkList reads an array list of pages of size entries from pos and calls
// visit with its entries, at most minPageRecords at a time, each time with
// the position after them; it returns the position after the last entry.
// request builds the request of a page number, or, for page < 0, of the
// first page without PageNumber.
//
// The list is treated as unpaged unless it proves otherwise: a first
// answer shorter than size, or longer (PageSize ignored), is everything.
// After a full first answer, PageNumber=1 is probed: nothing means base 0
// and the end; the first page again means base 1 (or an API that ignores
// PageNumber, which the next page exposes by repeating it too); anything
// else is the second page of base 0. Either way each entry is visited once.
func (c *conn) walkList(ctx context.Context, request func(page int) connector.Request, size int, pos listPos,
	visit func(raw []json.RawMessage, next listPos) error) (listPos, error) {
	for !pos.Done {
		page := pos.Page
		if pos.Base < 0 && pos.Page == 0 {
			page = -1
		}
		req := request(page)
		var raw []json.RawMessage
		if err := c.do(ctx, req, &raw); err != nil {
			return pos, err
		}
		probe := pos.Base < 0 && pos.Page == 1
		switch {
		case len(raw) == 0:
			return listPos{Done: true}, nil
		case probe && entryKey(raw[0]) == pos.Prev:
			// The first page again: base 1. Page 2 is next.
			pos = listPos{Base: 1, Page: 2, Prev: pos.Prev}
			continue
		case probe:
			// Base 0, and this is its page 1.
			pos = listPos{Base: 0, Page: 1, Prev: pos.Prev}
		case pos.Base >= 0 && entryKey(raw[0]) == pos.Prev:
			return listPos{Done: true}, nil // PageNumber is ignored: this page was read
		}
		// After this page: the end, unless it was exactly full.
		after := listPos{Done: true}
		if len(raw) == size {
			after = listPos{Base: pos.Base, Page: pos.Page + 1, Prev: entryKey(raw[0])}
		}
		for from := min(pos.Skip, len(raw)); from < len(raw); from += minPageRecords {
			to := min(from+minPageRecords, len(raw))
			next := after
			if to < len(raw) {
				next = pos
				next.Skip = to
			}
			if err := visit(raw[from:to], next); err != nil {
				return pos, err
			}
		}
		pos = after
	}
	return pos, nil
}

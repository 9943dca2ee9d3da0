package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Paging: limit defaults to defaultLimit and may not exceed maxLimit.
const (
	defaultLimit = 20
	maxLimit     = 100
	// maxOffset keeps offsets far from overflow in either store.
	maxOffset = 1_000_000_000
)

// list is the answer of every list operation.
type list[T any] struct {
	Items  []T `json:"items"`
	Total  int `json:"total"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
}

// paging is a list request's window.
type paging struct{ offset, limit int }

// readQuery checks the query of a list request: only paging and the named
// filters are known, and paging must be in range. Paging beyond the end is
// no error: the list is empty.
func readQuery(w http.ResponseWriter, r *http.Request, filters ...string) (paging, bool) {
	q := r.URL.Query()
	for k := range q {
		if k != "offset" && k != "limit" && !slices.Contains(filters, k) {
			writeProblem(w, http.StatusBadRequest, "unknown-field", "Unknown query parameter",
				"Known parameters: "+strings.Join(append([]string{"offset", "limit"}, filters...), ", ")+".", k)
			return paging{}, false
		}
	}
	p := paging{limit: defaultLimit}
	for _, f := range []struct {
		name     string
		dst      *int
		min, max int
	}{{"offset", &p.offset, 0, maxOffset}, {"limit", &p.limit, 1, maxLimit}} {
		v := q.Get(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < f.min || n > f.max {
			writeProblem(w, http.StatusBadRequest, "invalid-field", "Invalid value",
				f.name+" must be an integer from "+strconv.Itoa(f.min)+" to "+strconv.Itoa(f.max)+".", f.name)
			return paging{}, false
		}
		*f.dst = n
	}
	return p, true
}

// boolFilter reads an optional true/false query parameter.
func boolFilter(w http.ResponseWriter, r *http.Request, name string) (*bool, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return nil, true
	}
	b, err := strconv.ParseBool(v)
	if err != nil || (v != "true" && v != "false") {
		writeProblem(w, http.StatusBadRequest, "invalid-field", "Invalid value", name+" must be true or false.", name)
		return nil, false
	}
	return &b, true
}

// window is the page of items at offset, at most limit long; past the end it
// is empty, never nil, so that it encodes as [].
func window[T any](items []T, offset, limit int) []T {
	if offset >= len(items) {
		return []T{}
	}
	return items[offset:min(len(items), offset+limit)]
}

package api

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/authz/authz/internal/httpjson"
	"github.com/authz/authz/internal/store"
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

// keysetPage is the answer of the keyset-paginated lists (users, clients,
// providers, audit events): one page and the cursor of the next, null on the
// last. The same next page is in the Link header (RFC 8288, rel="next").
type keysetPage[T any] struct {
	Items []T     `json:"items"`
	Next  *string `json:"next"`
	Limit int     `json:"limit"`
}

// readPage checks the query of a keyset list request: only cursor, limit
// and the named filters are known. A limit above maxLimit is clamped to it;
// one that is no integer or below 1 is refused. The cursor is checked by the
// list it belongs to.
func readPage(w http.ResponseWriter, r *http.Request, filters ...string) (store.Page, bool) {
	q := r.URL.Query()
	for k := range q {
		if k != "cursor" && k != "limit" && !slices.Contains(filters, k) {
			writeProblem(w, http.StatusBadRequest, "unknown-field", "Unknown query parameter",
				"Known parameters: "+strings.Join(append([]string{"cursor", "limit"}, filters...), ", ")+".", k)
			return store.Page{}, false
		}
	}
	p := store.Page{After: q.Get("cursor"), Limit: defaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil && isDigits(v) {
			n, err = maxLimit, nil // too large for an int: clamped like any other
		}
		if err != nil || n < 1 {
			writeProblem(w, http.StatusBadRequest, "invalid-field", "Invalid value",
				"limit must be a positive integer (at most "+strconv.Itoa(maxLimit)+" are listed).", "limit")
			return store.Page{}, false
		}
		p.Limit = min(n, maxLimit)
	}
	return p, true
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// writePage answers one page of a keyset list, with the next page's link.
func writePage[T any](w http.ResponseWriter, r *http.Request, items []T, next string, p store.Page) {
	out := keysetPage[T]{Items: items, Limit: p.Limit}
	if out.Items == nil {
		out.Items = []T{}
	}
	if next != "" {
		out.Next = &next
		q := r.URL.Query()
		q.Set("cursor", next)
		q.Set("limit", strconv.Itoa(p.Limit))
		u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
		w.Header().Set("Link", "<"+u.String()+`>; rel="next"`)
	}
	httpjson.Write(w, http.StatusOK, out)
}

package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/store"
)

// List paging: keyset pages of pageSize rows; ?after= carries the cursor the
// previous page's "Next" link holds. There is no page count and no
// "previous": counting or walking back would read what the page does not
// show; "First page" starts over.
const (
	pageSize    = 20
	maxQueryLen = 100
)

// listPage is the page a list request asks for: the cursor of ?after=, as
// sent (the store refuses one it did not make for this list and filter).
func listPage(q url.Values) store.Page {
	return store.Page{After: q.Get("after"), Limit: pageSize}
}

// pageLinks are the links of a list page: "first page" when this is not the
// first, "next" when another page follows. filter holds the list's filters.
func pageLinks(path string, filter url.Values, pg store.Page, next string) (first, nextHref string) {
	if pg.After != "" {
		first = withQuery(path, filter, "")
	}
	if next != "" {
		nextHref = withQuery(path, filter, next)
	}
	return first, nextHref
}

// withQuery is path with the non-empty values of filter and the cursor.
func withQuery(path string, filter url.Values, after string) string {
	v := url.Values{}
	for k, vs := range filter {
		if len(vs) > 0 && vs[0] != "" {
			v.Set(k, vs[0])
		}
	}
	if after != "" {
		v.Set("after", after)
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// badPage answers a list request whose cursor the store refused: a link
// edited by hand or kept from another search. It reports whether it did.
func (c *Console) badPage(w http.ResponseWriter, r *http.Request, err error) bool {
	e := admin.AsError(err)
	if !errors.Is(err, store.ErrBadCursor) && (e == nil || e.Field != "cursor") {
		return false
	}
	c.errorPage(w, r, http.StatusBadRequest, "admin.bad_page", "admin.bad_page_text")
	return true
}

// cleanQuery makes a search term safe for both stores: valid UTF-8 without
// control characters, at most maxQueryLen characters.
func cleanQuery(s string) string {
	query := strings.TrimSpace(strings.Map(dropControl, strings.ToValidUTF8(s, "")))
	if r := []rune(query); len(r) > maxQueryLen {
		query = string(r[:maxQueryLen])
	}
	return query
}

// dropControl removes control characters, which no name contains and which
// PostgreSQL refuses (NUL) in text.
func dropControl(r rune) rune {
	if unicode.IsControl(r) {
		return -1
	}
	return r
}

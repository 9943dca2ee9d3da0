package console

import (
	"net/url"
	"strconv"
	"strings"
	"unicode"
)

// List paging.
const (
	pageSize    = 20
	maxQueryLen = 100
	// maxPage keeps the offset far from overflow whatever ?page= says.
	maxPage = 1_000_000
)

// pageLinks numbers the shown rows (1-based) and links the neighbouring pages
// of a list; href makes the link of a page number.
func pageLinks(offset, shown, total, page int, href func(int) string) (from, to int, prev, next string) {
	if shown > 0 {
		from, to = offset+1, offset+shown
	}
	if page > 1 {
		// Past the end, "previous" leads back to the last page that has rows.
		last := max(1, (total+pageSize-1)/pageSize)
		prev = href(min(page-1, last))
	}
	if offset+shown < total {
		next = href(page + 1)
	}
	return from, to, prev, next
}

// listParams reads the search and page number leniently: a list is never an
// error, whatever the URL says.
func listParams(q url.Values) (string, int) {
	return cleanQuery(q.Get("q")), pageParam(q)
}

func pageParam(q url.Values) int {
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	return min(page, maxPage)
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

func listHref(query string, page int) string {
	v := url.Values{}
	if query != "" {
		v.Set("q", query)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/admin/users"
	}
	return "/admin/users?" + v.Encode()
}

// pagedHref is path with the non-empty values of q and the page number.
func pagedHref(path string, q url.Values, page int) string {
	v := url.Values{}
	for k, vs := range q {
		if len(vs) > 0 && vs[0] != "" {
			v.Set(k, vs[0])
		}
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

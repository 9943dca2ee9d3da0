package admin

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxQueryLen bounds a search term or a filter's key, in characters.
const maxQueryLen = 100

// validText accepts valid UTF-8 of at most maxLen characters without control
// characters, which no name contains and which PostgreSQL refuses (NUL).
func validText(s string, maxLen int) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxLen {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

package store

import (
	"strings"

	"golang.org/x/text/unicode/norm"
)

// CanonicalUsername is the form in which usernames (and the names typed to
// sign in) are stored and looked up: trimmed and NFKC-normalized, so that the
// full-width letters and digits a Japanese input method types are the ASCII
// ones ("ａｌｉｃｅ" is "alice") and half-width katakana are full-width.
// Case is then folded by the stores, which agree on ASCII and on scripts
// without case.
func CanonicalUsername(s string) string {
	return norm.NFKC.String(strings.TrimSpace(s))
}

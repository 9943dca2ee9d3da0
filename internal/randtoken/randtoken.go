// Package randtoken makes the random strings authz hands out: cookie and link
// tokens, client secrets, upstream state and nonce values, generated passwords.
package randtoken

import (
	"crypto/rand"
	"encoding/base64"
)

// New returns n random bytes from crypto/rand, base64url-encoded without
// padding, so the result is safe in URLs, cookies and form fields.
func New(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never fails since Go 1.24: it crashes the program
	// rather than return predictable bytes.
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Package httpjson writes JSON answers: the OpenID provider's endpoints and
// the admin API answer through it, with the same headers.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// Write answers with v as JSON and status. Answers carry tokens, secrets or
// account data, so none may be cached (RFC 6749 §5.1).
func Write(w http.ResponseWriter, status int, v any) {
	WriteAs(w, status, "application/json", v)
}

// WriteAs is Write with another JSON media type, such as
// application/problem+json.
func WriteAs(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// The status is sent: an encoding error can only be a client gone.
	_ = json.NewEncoder(w).Encode(v)
}

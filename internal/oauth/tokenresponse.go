package oauth

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	"github.com/ory/fosite"
)

// writeAccessResponse answers a token request as fosite's
// WriteAccessResponse does, byte for byte, with its headers and status, but
// for an empty scope, which it leaves out.
// fosite encodes the response's map with encoding/json, which reflects over
// each member and sorts the keys through reflect values; the members fosite
// sets are plain strings and integers, which appendTokenJSON writes itself.
func writeAccessResponse(w http.ResponseWriter, resp fosite.AccessResponder) {
	h := w.Header()
	h["Cache-Control"] = noStore
	h["Pragma"] = noCache
	m := resp.ToMap()
	if m["scope"] == "" {
		// No scope granted: fosite's empty member tells a client nothing
		// (RFC 6749 §5.1), and a strict one reads it as one empty scope.
		delete(m, "scope")
	}
	body, ok := appendTokenJSON(make([]byte, 0, 1024), m)
	if !ok {
		var err error
		if body, err = json.Marshal(m); err != nil {
			http.Error(w, "The token response could not be encoded.", http.StatusInternalServerError)
			return
		}
	}
	h["Content-Type"] = fositeJSON
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// appendTokenJSON appends m as encoding/json would encode it, and reports
// false, leaving the rest to encoding/json, for any key or value that is not
// a string of plain characters or an integer.
func appendTokenJSON(b []byte, m map[string]any) ([]byte, bool) {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !plainJSON(k) {
			return b, false
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(append(append(b, '"'), k...), `":`...)
		switch v := m[k].(type) {
		case string:
			if !plainJSON(v) {
				return b, false
			}
			b = append(append(append(b, '"'), v...), '"')
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		default:
			return b, false
		}
	}
	return append(b, '}'), true
}

// plainJSON reports whether encoding/json writes s unchanged between its
// quotes: printable ASCII without the characters it escapes (it escapes <, >
// and & for HTML too).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

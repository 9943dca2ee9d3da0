package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
)

// maxBodyBytes bounds every API request body.
const maxBodyBytes = 64 << 10

// fieldTargets maps the JSON fields a request body may carry to where their
// values go: pointers to the nil-able fields of a patch (**string, **bool,
// **[]string), so that an absent field stays nil.
type fieldTargets map[string]any

// decodeBody reads a JSON object into targets. It answers the request itself
// and returns false when the body is not acceptable: another media type (415),
// too large (413), not a JSON object, an unknown field, a null or a value of
// the wrong type (400, naming the field). Fields are checked in name order,
// so the first problem reported is always the same.
func decodeBody(w http.ResponseWriter, r *http.Request, targets fieldTargets) bool {
	if !jsonMediaType(r.Header.Get("Content-Type")) {
		writeProblem(w, http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
			"Send the body as application/json.", "")
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		writeProblem(w, http.StatusRequestEntityTooLarge, "body-too-large", "Body too large",
			"The body must be at most 64 KiB.", "")
		return false
	}
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "malformed-body", "Malformed body", "The body could not be read.", "")
		return false
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		writeProblem(w, http.StatusBadRequest, "malformed-body", "Malformed body", "The body must be one JSON object.", "")
		return false
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !decodeField(w, name, fields[name], targets) {
			return false
		}
	}
	return true
}

func decodeField(w http.ResponseWriter, name string, raw json.RawMessage, targets fieldTargets) bool {
	target, ok := targets[name]
	if !ok {
		known := make([]string, 0, len(targets))
		for k := range targets {
			known = append(known, k)
		}
		slices.Sort(known)
		writeProblem(w, http.StatusBadRequest, "unknown-field", "Unknown field",
			"The field "+name+" is unknown or read-only here. Known fields: "+strings.Join(known, ", ")+".", name)
		return false
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		writeProblem(w, http.StatusBadRequest, "invalid-field", "Invalid value", name+" must not be null; leave it out to keep its value.", name)
		return false
	}
	if err := json.Unmarshal(raw, target); err != nil {
		writeProblem(w, http.StatusBadRequest, "invalid-field", "Invalid value", name+" must be "+typeName(target)+".", name)
		return false
	}
	if list, ok := target.(**[]string); ok && slices.Contains(**list, "") && containsNull(raw) {
		writeProblem(w, http.StatusBadRequest, "invalid-field", "Invalid value", name+" must be "+typeName(target)+".", name)
		return false
	}
	return true
}

// containsNull reports whether a JSON array holds a null, which decodes to ""
// without complaint.
func containsNull(raw json.RawMessage) bool {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return false
	}
	return slices.ContainsFunc(items, func(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" })
}

func typeName(target any) string {
	switch target.(type) {
	case **bool:
		return "true or false"
	case **[]string:
		return "an array of strings"
	case *jwksTarget:
		return "a JSON Web Key Set"
	}
	return "a string"
}

// jsonMediaType accepts JSON, and JSON merge patch for PATCH, whose
// semantics (absent: unchanged) the API follows but for null.
func jsonMediaType(v string) bool {
	mt, _, err := mime.ParseMediaType(v)
	return err == nil && (mt == "application/json" || mt == "application/merge-patch+json")
}

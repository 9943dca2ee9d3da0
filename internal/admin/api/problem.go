package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/authz/authz/internal/admin"
	"github.com/authz/authz/internal/httpjson"
	"github.com/authz/authz/internal/store"
)

// problem is an RFC 9457 problem document; Field names the request field at
// fault, in the API's names.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Field  string `json:"field,omitempty"`
}

// problemType is the type URI of the problem called slug.
func problemType(slug string) string { return "urn:authz:problem:" + slug }

func writeProblem(w http.ResponseWriter, status int, slug, title, detail, field string) {
	httpjson.WriteAs(w, status, "application/problem+json",
		problem{Type: problemType(slug), Title: title, Status: status, Detail: detail, Field: field})
}

// refuse answers an operation's error: a service refusal as the matching
// problem, anything else as an internal one. Problems are in English (the
// refusal's Message), whatever the request's language: the API's readers
// are programs, which match on type and field, and their logs.
func (a *API) refuse(w http.ResponseWriter, r *http.Request, err error) {
	e := admin.AsError(err)
	if e == nil {
		a.fail(w, r, err)
		return
	}
	switch e.Kind {
	case admin.KindNotFound:
		writeProblem(w, http.StatusNotFound, "not-found", "Not found", e.Message, e.Field)
	case admin.KindConflict:
		writeProblem(w, http.StatusConflict, "conflict", "Conflict", e.Message, e.Field)
	default:
		writeProblem(w, http.StatusBadRequest, "invalid-field", "Invalid value", e.Message, e.Field)
	}
}

// fail ends a request on an internal error without detail for the client.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		a.logger().WarnContext(r.Context(), "admin api: store unavailable", "err", err)
		w.Header().Set("Retry-After", "5")
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", "Temporarily unavailable", "The database cannot be reached right now.", "")
		return
	}
	a.logger().ErrorContext(r.Context(), "admin api: internal error", "path", r.URL.Path, "err", err)
	writeProblem(w, http.StatusInternalServerError, "internal", "Internal error", "The request could not be completed.", "")
}

package api

import (
	"net/http"
	"strings"
	"testing"
)

func TestAPIRouting(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		wantProblem(t, e.api("GET", "/nothing-here", nil), http.StatusNotFound, "")
		r := e.api("PUT", "/users", nil)
		wantProblem(t, r, http.StatusMethodNotAllowed, "")
		if allow := r.header.Get("Allow"); allow != "GET, POST" {
			t.Errorf("Allow %q", allow)
		}
		req, _ := http.NewRequest(http.MethodGet, e.Server.URL+Prefix+"/openapi.json", nil)
		doc := e.Do(req, "")
		if doc.Status != http.StatusOK || !strings.Contains(doc.Body, `"openapi": "3.1.0"`) {
			t.Errorf("openapi.json: %d", doc.Status)
		}
	})
}

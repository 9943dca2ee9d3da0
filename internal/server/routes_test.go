package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/authz/authz/internal/admin/api"
)

// route is one method and path pattern of docs/design.md's route table.
type route struct{ method, pattern string }

// documentedRoutes reads the route table of docs/design.md. A cell lists
// paths in backquotes; a one-segment path after a longer one is a sibling of
// the one before it (`/admin/users/{id}/reset-otp`, `/send-setup`).
func documentedRoutes(t *testing.T) []route {
	t.Helper()
	doc, err := os.ReadFile("../../docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "\n## Routes\n")
	if !ok {
		t.Fatal("docs/design.md has no Routes section")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	paths := regexp.MustCompile("`([^`]+)`")
	var routes []route
	for line := range strings.Lines(table) {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || !strings.Contains(cells[2], "`") {
			continue
		}
		prev := ""
		for _, m := range paths.FindAllStringSubmatch(cells[2], -1) {
			p := m[1]
			if prev != "" && strings.Count(strings.TrimSuffix(p, "/"), "/") == 1 && strings.Count(prev, "/") > 1 {
				p = prev[:strings.LastIndex(prev, "/")] + p
			}
			prev = p
			for _, method := range strings.Split(cells[1], ",") {
				routes = append(routes, route{strings.TrimSpace(method), p})
			}
		}
	}
	if len(routes) < 40 {
		t.Fatalf("read only %d routes from docs/design.md", len(routes))
	}
	return routes
}

// samplePath is a path the pattern matches.
func samplePath(pattern string) string {
	p := regexp.MustCompile(`\{[a-z]+\}`).ReplaceAllString(pattern, "x1")
	if exact, ok := strings.CutSuffix(p, "{$}"); ok {
		return exact
	}
	if strings.HasSuffix(p, "/") {
		p += "x" // a subtree pattern
	}
	return p
}

// TestRouteTableIsTrue: every route docs/design.md lists is served, with
// exactly that method and pattern; the admin API's routes, behind its own
// router, answer an anonymous call with 401, never 404 or 405.
func TestRouteTableIsTrue(t *testing.T) {
	t.Parallel()
	app := openApp(t, []string{"--dev"}, io.Discard)
	mux, h := app.routes(), app.Handler()
	for _, rt := range documentedRoutes(t) {
		req := httptest.NewRequest(rt.method, samplePath(rt.pattern), nil)
		if strings.HasPrefix(rt.pattern, api.Prefix+"/") {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d, the API has no such route", rt.method, rt.pattern, rec.Code)
			}
			continue
		}
		_, got := mux.Handler(req)
		if want := rt.method + " " + rt.pattern; got != want && !(rt.method == "GET" && got == "GET "+rt.pattern) {
			t.Errorf("%s %s is served by pattern %q", rt.method, rt.pattern, got)
		}
	}
}

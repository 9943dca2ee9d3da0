package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/authz/authz/internal/admin"
)

type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
	Comps   struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	return doc
}

// TestOpenAPIMatchesRoutes checks that every documented operation is routed
// to its own handler and every API route is documented.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	a := &API{}
	mux := a.mux()
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			m := strings.ToUpper(method)
			documented[m+" "+path] = true
			req := httptest.NewRequest(m, Prefix+examplePath(path), nil)
			if _, pattern := mux.Handler(req); pattern != m+" "+Prefix+path {
				t.Errorf("documented %s %s is routed to %q", m, path, pattern)
			}
		}
	}
	routes := append(a.routes(), route{method: http.MethodGet, path: "/openapi.json"})
	for _, rt := range routes {
		if !documented[rt.method+" "+rt.path] {
			t.Errorf("route %s %s is not documented", rt.method, rt.path)
		}
	}
	if len(documented) != len(routes) {
		t.Errorf("%d documented operations, %d routes", len(documented), len(routes))
	}
}

// examplePath fills the path parameters of a documented path.
func examplePath(path string) string {
	var b strings.Builder
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "" {
			continue
		}
		if strings.HasPrefix(seg, "{") {
			seg = "x1"
		}
		b.WriteString("/" + seg)
	}
	return b.String()
}

// TestOpenAPIBodiesMatchDecoders checks that the documented request bodies
// list exactly the fields the API accepts.
func TestOpenAPIBodiesMatchDecoders(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	for schema, targets := range map[string]fieldTargets{
		"UserCreate": userTargets(&admin.UserPatch{}), "UserPatch": userTargets(&admin.UserPatch{}),
		"ClientCreate": clientTargets(&admin.ClientPatch{}), "ClientPatch": clientTargets(&admin.ClientPatch{}),
		"ProviderCreate": providerTargets(&admin.ProviderPatch{}), "ProviderPatch": providerTargets(&admin.ProviderPatch{}),
	} {
		s, ok := doc.Comps.Schemas[schema]
		if !ok {
			t.Errorf("schema %s missing", schema)
			continue
		}
		got, want := slices.Sorted(maps.Keys(s.Properties)), slices.Sorted(maps.Keys(targets))
		if !slices.Equal(got, want) {
			t.Errorf("schema %s documents %v, the API accepts %v", schema, got, want)
		}
	}
	// The answers document what the API writes.
	for schema, v := range map[string]any{"User": apiUser{}, "Client": apiClient{}, "Provider": apiProvider{}, "AuditEvent": apiAuditEvent{}, "Stats": admin.Stats{},
		"UserList": keysetPage[apiUser]{}, "ClientList": keysetPage[apiClient]{}, "ProviderList": keysetPage[apiProvider]{}, "AuditEventList": keysetPage[apiAuditEvent]{},
		"IdentityList": list[apiIdentity]{}} {
		b, _ := json.Marshal(v)
		var fields map[string]any
		_ = json.Unmarshal(b, &fields)
		delete(fields, "client_secret") // omitted when empty; documented on Client
		got := slices.Sorted(maps.Keys(doc.Comps.Schemas[schema].Properties))
		want := slices.Sorted(maps.Keys(fields))
		if schema == "Client" {
			want = append(want, "client_secret")
			sort.Strings(want)
		}
		if !slices.Equal(got, want) {
			t.Errorf("schema %s documents %v, the API writes %v", schema, got, want)
		}
	}
}

// Package internal_test checks the layer order of docs/design.md: which of
// authz's packages may import which. A change that breaks it fails here,
// not in review.
package internal_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/authz/authz/"

// imports lists, for every package of the module, the module's packages its
// non-test files import, with the module prefix cut. It parses the files
// itself rather than asking go list, so that go test's cache sees every file
// it read and reruns the test when one changes.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	graph := map[string][]string{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		if _, ok := graph[pkg]; !ok {
			graph[pkg] = nil
		}
		for _, spec := range f.Imports {
			imp, _ := strconv.Unquote(spec.Path.Value)
			if rest, ok := strings.CutPrefix(imp, module); ok && !slices.Contains(graph[pkg], rest) {
				graph[pkg] = append(graph[pkg], rest)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read the module: %v", err)
	}
	return graph
}

func under(pkg string, roots ...string) bool {
	for _, r := range roots {
		if pkg == r || strings.HasPrefix(pkg, r+"/") {
			return true
		}
	}
	return false
}

func TestLayers(t *testing.T) {
	graph := imports(t)
	if len(graph) < 10 {
		t.Fatalf("go list found only %d packages", len(graph))
	}
	rules := []struct {
		name    string
		applies func(pkg string) bool
		allowed func(imp string) bool
	}{
		{"oauth, admin and federation never import login (they reach it through interfaces)",
			func(p string) bool { return under(p, "internal/oauth", "internal/admin", "internal/federation") },
			func(i string) bool { return !under(i, "internal/login") }},
		{"the admin service knows neither of its web faces nor their session rule",
			func(p string) bool { return p == "internal/admin" },
			func(i string) bool { return !under(i, "internal/admin") }},
		{"the admin console and the admin API do not import each other",
			func(p string) bool { return under(p, "internal/admin/console", "internal/admin/api") },
			func(i string) bool { return !under(i, "internal/admin/console", "internal/admin/api") }},
		{"the administrator's session rule builds only on session and store",
			func(p string) bool { return p == "internal/admin/adminsession" },
			func(i string) bool { return i == "internal/session" || i == "internal/store" }},
		{"store imports no other internal package",
			func(p string) bool { return p == "internal/store" },
			func(string) bool { return false }},
		{"store backends and the conformance suite import only store and migrations",
			func(p string) bool { return under(p, "internal/store") && p != "internal/store" },
			func(i string) bool { return i == "internal/store" || i == "migrations" }},
		{"session builds only on store and randtoken",
			func(p string) bool { return p == "internal/session" },
			func(i string) bool { return i == "internal/store" || i == "internal/randtoken" }},
		{"throttle and mfa build only on store, seal and throttle",
			func(p string) bool { return p == "internal/throttle" || p == "internal/mfa" },
			func(i string) bool {
				return slices.Contains([]string{"internal/store", "internal/seal", "internal/throttle"}, i)
			}},
		{"passkey builds only on store",
			func(p string) bool { return p == "internal/passkey" },
			func(i string) bool { return i == "internal/store" }},
		{"metrics takes plain outcomes: it imports no internal package",
			func(p string) bool { return p == "internal/metrics" },
			func(string) bool { return false }},
		{"only server and the commands wire the layers together",
			func(p string) bool { return !under(p, "cmd", "tools", "internal/server") },
			func(i string) bool { return i != "internal/server" }},
		{"the product never imports the tools or the test support",
			func(p string) bool { return !under(p, "tools", "internal/testsupport") },
			func(i string) bool { return !under(i, "tools", "internal/testsupport") }},
	}
	for pkg, imps := range graph {
		for _, rule := range rules {
			if !rule.applies(pkg) {
				continue
			}
			for _, imp := range imps {
				if !rule.allowed(imp) {
					t.Errorf("%s imports %s: %s", pkg, imp, rule.name)
				}
			}
		}
	}
}

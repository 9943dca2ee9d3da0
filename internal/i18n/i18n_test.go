package i18n

import (
	"context"
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// catalogFile reads one catalog as go-i18n reads it: an ID maps to a
// string, or to plural forms.
func catalogFile(t *testing.T, fsys fs.FS, name string) map[string]map[string]string {
	t.Helper()
	buf, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(buf, &raw); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out := map[string]map[string]string{}
	for id, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[id] = map[string]string{"other": s}
			continue
		}
		var forms map[string]string
		if err := json.Unmarshal(v, &forms); err != nil {
			t.Fatalf("%s: %s is neither a string nor plural forms: %v", name, id, err)
		}
		out[id] = forms
	}
	return out
}

var variable = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)

// variables lists the template variables a message's forms use.
func variables(forms map[string]string) []string {
	set := map[string]bool{}
	for _, f := range forms {
		for _, m := range variable.FindAllStringSubmatch(f, -1) {
			set[m[1]] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// checkCatalogs reports every key one catalog has and another lacks, and
// every message whose variables differ between languages.
func checkCatalogs(t *testing.T, fsys fs.FS) []string {
	names, err := fs.Glob(fsys, "locales/*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no catalogs: %v", err)
	}
	cats := map[string]map[string]map[string]string{}
	for _, n := range names {
		cats[n] = catalogFile(t, fsys, n)
	}
	var problems []string
	for a, ca := range cats {
		for b, cb := range cats {
			if a == b {
				continue
			}
			for id, forms := range ca {
				other, ok := cb[id]
				if !ok {
					problems = append(problems, b+" lacks "+id)
					continue
				}
				if va, vb := variables(forms), variables(other); a < b && !slices.Equal(va, vb) {
					problems = append(problems, id+": variables "+strings.Join(va, ",")+" in "+a+" but "+strings.Join(vb, ",")+" in "+b)
				}
			}
		}
	}
	slices.Sort(problems)
	return problems
}

func TestCatalogsComplete(t *testing.T) {
	for _, p := range checkCatalogs(t, files) {
		t.Error(p)
	}
	if got := Supported(); !slices.Equal(got, []string{"en", "ja"}) {
		t.Errorf("Supported() = %v", got)
	}
}

// TestCatalogCheckFindsFaults proves the check above fails on a missing key
// and on a variable renamed in one language.
func TestCatalogCheckFindsFaults(t *testing.T) {
	fsys := fstest.MapFS{
		"locales/en.json": {Data: []byte(`{"a": "A {{.Name}}", "b": "B", "c": {"one": "{{.Count}} c", "other": "{{.Count}} cs"}}`)},
		"locales/ja.json": {Data: []byte(`{"a": "エー {{.User}}", "c": {"other": "{{.Count}} 個"}}`)},
	}
	got := checkCatalogs(t, fsys)
	want := []string{"a: variables Name in locales/en.json but User in locales/ja.json", "locales/ja.json lacks b"}
	if !slices.Equal(got, want) {
		t.Errorf("problems = %q, want %q", got, want)
	}
	if _, err := load(fstest.MapFS{"locales/ja.json": {Data: []byte(`{"a": "x"}`)}}); err == nil {
		t.Error("a catalog set without English loaded")
	}
	if _, err := load(fstest.MapFS{"locales/en.json": {Data: []byte(`{"a": `)}}); err == nil {
		t.Error("a malformed catalog loaded")
	}
}

// idLiteral is a Go string literal shaped like a message ID.
var idLiteral = regexp.MustCompile(`"([a-z]+)\.([a-z0-9_]+(?:\.[a-z0-9_]+)*)"`)

// TestEveryUsedMessageExists reads every non-test .go and .templ file of
// the module for string literals shaped like a message ID of one of the
// catalogs' namespaces ("err.…", "login.…") and checks each is in the English
// catalog (and so, by TestCatalogsComplete, in all): a message named in
// the code but missing from the catalogs fails here, not on a page.
func TestEveryUsedMessageExists(t *testing.T) {
	en := catalogFile(t, files, "locales/en.json")
	spaces := map[string]bool{}
	for id := range en {
		spaces[strings.SplitN(id, ".", 2)[0]] = true
	}
	seen := 0
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// Audit event types and configuration keys are dotted names too.
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != "../.." || path == "../../internal/audit" || path == "../../internal/config") {
			return filepath.SkipDir
		}
		if d.IsDir() || strings.HasSuffix(path, "_templ.go") || strings.HasSuffix(path, "_test.go") ||
			!(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".templ")) {
			return nil
		}
		buf, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range idLiteral.FindAllStringSubmatch(string(buf), -1) {
			if !spaces[m[1]] {
				continue
			}
			seen++
			if id := m[1] + "." + m[2]; en[id] == nil {
				t.Errorf("%s uses message %q, which no catalog has", path, id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 100 {
		t.Errorf("found only %d message uses: is the pattern stale?", seen)
	}
}

func TestNegotiationOrder(t *testing.T) {
	for _, c := range []struct {
		name string
		p    Prefs
		want string
	}{
		{"nothing: the fallback", Prefs{}, "en"},
		{"the default", Prefs{Default: "ja"}, "ja"},
		{"Accept-Language over the default", Prefs{AcceptLanguage: "ja-JP,ja;q=0.9,en;q=0.8", Default: "en"}, "ja"},
		{"Accept-Language by weight, not order", Prefs{AcceptLanguage: "fr;q=0.9,en;q=0.5,ja;q=0.8"}, "ja"},
		{"unsupported Accept-Language: the default", Prefs{AcceptLanguage: "fr-FR,de", Default: "ja"}, "ja"},
		{"ui_locales over Accept-Language", Prefs{UILocales: "ja", AcceptLanguage: "en"}, "ja"},
		{"ui_locales in its order, skipping unsupported", Prefs{UILocales: "fr-CA ja en", AcceptLanguage: "en"}, "ja"},
		{"the cookie over everything", Prefs{Cookie: "en", UILocales: "ja", AcceptLanguage: "ja", Default: "ja"}, "en"},
		{"a region is its language", Prefs{Cookie: "ja-JP"}, "ja"},
		{"case does not matter", Prefs{UILocales: "JA"}, "ja"},
		{"a malformed cookie is skipped", Prefs{Cookie: "ja;drop table", AcceptLanguage: "ja"}, "ja"},
		{"a malformed cookie, nothing else", Prefs{Cookie: "\x00\xff", Default: "ja"}, "ja"},
		{"malformed ui_locales skipped", Prefs{UILocales: "!!! ***", AcceptLanguage: "ja"}, "ja"},
		{"malformed Accept-Language: the default", Prefs{AcceptLanguage: "ja;q=x;;,,=", Default: "en"}, "en"},
		{"hostile Accept-Language: the default", Prefs{AcceptLanguage: strings.Repeat("ja-", 10000), Default: "en"}, "en"},
		{"an unsupported default: the fallback", Prefs{Default: "xx"}, "en"},
		{"wildcard Accept-Language: the default", Prefs{AcceptLanguage: "*", Default: "ja"}, "ja"},
	} {
		if got := Negotiate(c.p); got != c.want {
			t.Errorf("%s: Negotiate(%+v) = %q, want %q", c.name, c.p, got, c.want)
		}
	}
}

// TestUILocalesNeverBeatsTheCookie: the login pipeline adds ui_locales to
// a request context; an explicit choice still wins.
func TestUILocalesNeverBeatsTheCookie(t *testing.T) {
	ctx := context.WithValue(context.Background(), ctxKey{}, state{lang: "en", zone: time.UTC, prefs: Prefs{AcceptLanguage: "en"}})
	if got := Language(WithUILocales(ctx, "ja")); got != "ja" {
		t.Errorf("ui_locales over Accept-Language: %q", got)
	}
	ctx = context.WithValue(context.Background(), ctxKey{}, state{lang: "en", zone: time.UTC, prefs: Prefs{Cookie: "en"}})
	if got := Language(WithUILocales(ctx, "ja")); got != "en" {
		t.Errorf("ui_locales over the cookie: %q", got)
	}
	if got := Language(WithUILocales(context.Background(), "")); got != "en" {
		t.Errorf("empty ui_locales: %q", got)
	}
}

func TestPluralsAndVariables(t *testing.T) {
	en := WithLanguage(context.Background(), "en", nil)
	ja := WithLanguage(context.Background(), "ja", nil)
	for _, c := range []struct {
		ctx  context.Context
		n    int
		want string
	}{
		{en, 1, "You have 1 recovery code left."},
		{en, 7, "You have 7 recovery codes left."},
		{ja, 1, "リカバリーコードは残り 1 個です。"},
		{ja, 7, "リカバリーコードは残り 7 個です。"},
	} {
		if got := Plural(c.ctx, "recovery.used_left", c.n); got != c.want {
			t.Errorf("Plural(%s, %d) = %q, want %q", Language(c.ctx), c.n, got, c.want)
		}
	}
	if got := T(ja, "login.with_provider", "Provider", "社内ＩｄＰ"); got != "社内ＩｄＰ でログイン" {
		t.Errorf("variable: %q", got)
	}
	// An unknown language is the fallback, never an error.
	if got := T(WithLanguage(context.Background(), "xx-!!", nil), "login.title"); got != "Sign in" {
		t.Errorf("unknown language: %q", got)
	}
	if got := T(context.Background(), ""); got != "" {
		t.Errorf("empty ID renders %q, want nothing", got)
	}
}

func TestDatesInLanguageAndZone(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2030, 1, 2, 15, 4, 0, 0, time.UTC)
	if got := FormatTime(WithLanguage(context.Background(), "ja", tokyo), at); got != "2030年1月3日 00:04 JST" {
		t.Errorf("ja/Tokyo: %q", got)
	}
	if got := FormatTime(WithLanguage(context.Background(), "en", nil), at); got != "2 Jan 2030, 15:04 UTC" {
		t.Errorf("en/UTC: %q", got)
	}
	if got := FormatDate(WithLanguage(context.Background(), "ja", tokyo), at); got != "2030年1月3日" {
		t.Errorf("ja date: %q", got)
	}
	if got := FormatTimeSeconds(WithLanguage(context.Background(), "ja", tokyo), at.Add(5*time.Second)); got != "2030年1月3日 00:04:05 JST" {
		t.Errorf("ja seconds: %q", got)
	}
	if got := FormatTimeSeconds(WithLanguage(context.Background(), "en", nil), at.Add(5*time.Second)); got != "2 Jan 2030, 15:04:05 UTC" {
		t.Errorf("en seconds: %q", got)
	}
}

// TestMessageRendersLater: a Message is rendered in the language asked,
// nested messages in the same one, and in English for programs.
func TestMessageRendersLater(t *testing.T) {
	m := M("admin.err.list", "Label", M("admin.label.scopes"), "Reason", M("admin.err.rule_scope", "Value", `"a b"`))
	if got, want := m.English(), `Scopes: "a b" is not a valid scope.`; got != want {
		t.Errorf("English %q, want %q", got, want)
	}
	if got, want := m.Text(WithLanguage(context.Background(), "ja", nil)), `スコープ："a b" は有効なスコープではありません。`; got != want {
		t.Errorf("Japanese %q, want %q", got, want)
	}
	if m.Args[1].(Message).ID != "admin.label.scopes" {
		t.Error("rendering changed the message's variables")
	}
}

func TestDuration(t *testing.T) {
	en := WithLanguage(context.Background(), "en", nil)
	ja := WithLanguage(context.Background(), "ja", nil)
	for d, want := range map[time.Duration][2]string{
		12 * time.Hour:   {"12 hours", "12時間"},
		time.Hour:        {"1 hour", "1時間"},
		30 * time.Minute: {"30 minutes", "30分"},
		48 * time.Hour:   {"2 days", "2日"},
		90 * time.Minute: {"1 hour 30 minutes", "1時間30分"},
		25 * time.Hour:   {"1 day 1 hour", "1日1時間"},
		0:                {"0 minutes", "0分"},
	} {
		if got := Duration(en, d); got != want[0] {
			t.Errorf("en %v = %q, want %q", d, got, want[0])
		}
		if got := Duration(ja, d); got != want[1] {
			t.Errorf("ja %v = %q, want %q", d, got, want[1])
		}
	}
}

func TestChoicesNameThemselves(t *testing.T) {
	got := Choices()
	want := []Choice{{"en", "English"}, {"ja", "日本語"}}
	if !slices.Equal(got, want) {
		t.Errorf("Choices() = %v, want %v", got, want)
	}
}

// FuzzNegotiate: no input panics, and the answer is always supported.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"", "ja", "ja-JP,ja;q=0.9", "en-US;q=0.5, *;q=0.1", "x-invalid;q=2", "ja;q=", "\xff\x00", strings.Repeat("a-", 300)} {
		f.Add(s, s, s)
	}
	f.Fuzz(func(t *testing.T, cookie, ui, accept string) {
		got := Negotiate(Prefs{Cookie: cookie, UILocales: ui, AcceptLanguage: accept, Default: "en"})
		if !slices.Contains(Supported(), got) {
			t.Fatalf("Negotiate gave unsupported %q", got)
		}
	})
}

package views

import (
	"go/scanner"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/a-h/templ/parser/v2"
)

// userFacingAttrs are the attributes people read or hear.
var userFacingAttrs = map[string]bool{"alt": true, "title": true, "placeholder": true, "aria-label": true, "label": true}

// literalProblems lists the user-facing text of a templ file that does not
// come from the catalogs: text between tags, user-facing attributes with a
// constant value, and Go string literals that read like words for people
// (a space between letters, or a capitalised word) anywhere in the file's
// Go code and expressions.
func literalProblems(t *testing.T, name, src string) []string {
	t.Helper()
	tf, err := parser.ParseString(src)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out []string
	add := func(what, s string) { out = append(out, name+": "+what+" "+strconv.Quote(strings.TrimSpace(s))) }
	goCode := func(code string) {
		for _, lit := range stringLiterals(code) {
			if wordy(lit) && !catalogVariables(t)[lit] {
				add("Go string", lit)
			}
		}
	}
	var walk func(nodes []parser.Node)
	walkAttrs := func(attrs []parser.Attribute) {
		for _, a := range attrs {
			switch a := a.(type) {
			case *parser.ConstantAttribute:
				if userFacingAttrs[a.Key.String()] && hasLetter(a.Value) {
					add("attribute "+a.Key.String(), a.Value)
				}
			case *parser.ExpressionAttribute:
				goCode(a.Expression.Value)
			}
		}
	}
	walk = func(nodes []parser.Node) {
		for _, n := range nodes {
			switch n := n.(type) {
			case *parser.Text:
				if hasLetter(n.Value) {
					add("text", n.Value)
				}
			case *parser.Element:
				walkAttrs(n.Attributes)
			case *parser.StringExpression:
				goCode(n.Expression.Value)
			case *parser.TemplElementExpression:
				goCode(n.Expression.Value)
			case *parser.GoCode:
				goCode(n.Expression.Value)
			case *parser.RawElement:
				if hasLetter(n.Contents) {
					add("raw element", n.Contents)
				}
			}
			if c, ok := n.(parser.CompositeNode); ok {
				walk(c.ChildNodes())
			}
		}
	}
	for _, n := range tf.Nodes {
		switch n := n.(type) {
		case *parser.HTMLTemplate:
			walk(n.Children)
		case *parser.TemplateFileGoExpression:
			goCode(n.Expression.Value)
		}
	}
	return out
}

// catalogVariables are the names messages' variables have ({{.Name}}):
// literals that name a variable, as in i18n.T(ctx, id, "Name", v), are not
// text.
func catalogVariables(t *testing.T) map[string]bool {
	t.Helper()
	buf, err := os.ReadFile("../internal/i18n/locales/en.json")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	for _, m := range regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`).FindAllStringSubmatch(string(buf), -1) {
		vars[m[1]] = true
	}
	return vars
}

func hasLetter(s string) bool { return strings.ContainsFunc(s, unicode.IsLetter) }

// wordy tells a sentence or a word for people from an identifier, a path or
// a message ID: a space next to a letter, or a capital followed by a
// lower-case letter.
func wordy(s string) bool {
	r := []rune(s)
	for i := 0; i+1 < len(r); i++ {
		if (unicode.IsLetter(r[i]) && r[i+1] == ' ') || (r[i] == ' ' && unicode.IsLetter(r[i+1])) ||
			(unicode.IsUpper(r[i]) && unicode.IsLower(r[i+1])) {
			return true
		}
	}
	// Words of scripts without case or spaces (Japanese) are never IDs.
	return strings.ContainsFunc(s, func(c rune) bool { return c > 0x2E7F && unicode.IsLetter(c) })
}

// stringLiterals returns the string literals of a piece of Go code.
func stringLiterals(code string) []string {
	var s scanner.Scanner
	fset := token.NewFileSet()
	file := fset.AddFile("", fset.Base(), len(code))
	s.Init(file, []byte(code), nil, 0)
	var out []string
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			return out
		}
		if tok == token.STRING {
			if v, err := strconv.Unquote(lit); err == nil {
				out = append(out, v)
			}
		}
	}
}

// TestNoLiteralTextInTemplates fails on any user-facing string written in a
// .templ file instead of the catalogs (internal/i18n/locales).
func TestNoLiteralTextInTemplates(t *testing.T) {
	names, err := filepath.Glob("*.templ")
	if err != nil || len(names) < 5 {
		t.Fatalf("templ files: %v %v", names, err)
	}
	for _, name := range names {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range literalProblems(t, name, string(src)) {
			t.Error(p)
		}
	}
}

// TestLiteralCheckerFindsText proves the checker sees each kind of literal.
func TestLiteralCheckerFindsText(t *testing.T) {
	src := `package views

import "github.com/authz/authz/internal/i18n"

func label() string { return "Sign in now" }

templ Bad(name string) {
	@Layout("Welcome") {
		<p>Hello there</p>
		<img src="/x.png" alt="A picture"/>
		<p title={ "Some title" }>{ "ようこそ" }</p>
		if name != "" {
			<span>{ name }</span>
		} else {
			Nobody
		}
		for _, x := range []string{"a"} {
			<i>{ x }</i>
		}
	}
}

templ Good(name string) {
	@Layout(i18n.T(ctx, "login.title")) {
		<p id="x-y" class="notice">{ i18n.T(ctx, "login.with_provider", "Provider", name) }</p>
		<a href="/login?manual=1">{ i18n.T(ctx, "enroll.cant_scan") }</a>
		<input type="hidden" name="csrf" value="abc"/>
	}
}
`
	got := literalProblems(t, "bad.templ", src)
	want := []string{"Sign in now", "Welcome", "Hello there", "A picture", "Some title", "ようこそ", "Nobody"}
	joined := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(joined, strconv.Quote(w)) {
			t.Errorf("checker missed %q; found:\n%s", w, joined)
		}
	}
	if len(got) != len(want) {
		t.Errorf("checker found %d problems, want %d:\n%s", len(got), len(want), joined)
	}
}

// Package i18n is the one place that knows the request's language: the
// message catalogs (one embedded JSON file per language, read by
// github.com/nicksnyder/go-i18n/v2), the negotiation of a language from the
// explicit choice, the OIDC ui_locales parameter, Accept-Language and the
// configured default, and the context that carries the choice to every page
// and e-mail. Adding a language is adding one file under locales/.
package i18n

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	gi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// Fallback is the language of last resort and of the catalogs' source text.
const Fallback = "en"

//go:embed locales/*.json
var files embed.FS

// catalog holds every language's messages. The files are embedded, so a
// catalog that does not parse is a build defect, found by the package's tests.
var catalog = mustLoad(files)

type catalogSet struct {
	bundle     *gi18n.Bundle
	langs      []string // sorted, base language tags
	localizers map[string]*gi18n.Localizer
}

func mustLoad(fsys fs.FS) *catalogSet {
	c, err := load(fsys)
	if err != nil {
		panic(err)
	}
	return c
}

// load reads every locales/<tag>.json of fsys.
func load(fsys fs.FS) (*catalogSet, error) {
	b := gi18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("json", json.Unmarshal)
	names, err := fs.Glob(fsys, "locales/*.json")
	if err != nil {
		return nil, fmt.Errorf("i18n: list catalogs: %w", err)
	}
	c := &catalogSet{bundle: b, localizers: map[string]*gi18n.Localizer{}}
	for _, name := range names {
		buf, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("i18n: read %s: %w", name, err)
		}
		if _, err := b.ParseMessageFileBytes(buf, name); err != nil {
			return nil, fmt.Errorf("i18n: parse %s: %w", name, err)
		}
		tag := strings.TrimSuffix(path.Base(name), ".json")
		c.langs = append(c.langs, tag)
		c.localizers[tag] = gi18n.NewLocalizer(b, tag)
	}
	if _, ok := c.localizers[Fallback]; !ok {
		return nil, fmt.Errorf("i18n: no catalog for %q", Fallback)
	}
	slices.Sort(c.langs)
	return c, nil
}

// Supported lists the languages with a catalog, as base tags ("en", "ja"),
// for ui_locales_supported and the language selector.
func Supported() []string { return slices.Clone(catalog.langs) }

// Choice is one entry of the language selector.
type Choice struct {
	Tag  string
	Name string // the language's name in itself: "English", "日本語"
}

// Choices lists every supported language named in itself.
func Choices() []Choice {
	out := make([]Choice, 0, len(catalog.langs))
	for _, tag := range catalog.langs {
		out = append(out, Choice{Tag: tag, Name: catalog.text(tag, "language.name", nil, nil)})
	}
	return out
}

// text renders message id in lang with data; count selects a plural form
// when not nil. A missing message renders as its ID, which the catalog
// tests make impossible for IDs written in the code.
func (c *catalogSet) text(lang, id string, data map[string]any, count any) string {
	l, ok := c.localizers[lang]
	if !ok {
		l = c.localizers[Fallback]
	}
	s, err := l.Localize(&gi18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	if err != nil {
		return id
	}
	return s
}

type ctxKey struct{}

// state is what a context knows of its language.
type state struct {
	lang string
	zone *time.Location
	// prefs are kept so that a later ui_locales can be weighed against them.
	prefs Prefs
	// method and page are the request's, from which ReturnPath derives
	// where the language selector returns to; nil page: "/".
	method string
	page   *url.URL
}

func from(ctx context.Context) state {
	if s, ok := ctx.Value(ctxKey{}).(state); ok {
		return s
	}
	return state{lang: Fallback, zone: time.UTC}
}

// WithLanguage returns ctx speaking lang (a supported tag; anything else is
// the fallback) in zone, e.g. for an e-mail in its recipient's language.
// A nil zone keeps ctx's.
func WithLanguage(ctx context.Context, lang string, zone *time.Location) context.Context {
	s := from(ctx)
	if tag, ok := Canonical(lang); ok {
		s.lang = tag
	} else {
		s.lang = Fallback
	}
	if zone != nil {
		s.zone = zone
	}
	return context.WithValue(ctx, ctxKey{}, s)
}

// WithUILocales weighs an OIDC ui_locales value into ctx's language: it
// outranks Accept-Language and the default, never an explicit choice.
func WithUILocales(ctx context.Context, uiLocales string) context.Context {
	s := from(ctx)
	if uiLocales == "" {
		return ctx
	}
	s.prefs.UILocales = uiLocales
	s.lang = Negotiate(s.prefs)
	return context.WithValue(ctx, ctxKey{}, s)
}

// Language is ctx's language tag.
func Language(ctx context.Context) string { return from(ctx).lang }

// Zone is the time zone dates are shown in.
func Zone(ctx context.Context) *time.Location { return from(ctx).zone }

// ReturnPath is where the language selector sends the browser back to.
func ReturnPath(ctx context.Context) string {
	s := from(ctx)
	if s.page == nil {
		return "/"
	}
	return returnPath(s.method, s.page)
}

// T renders message id in ctx's language. kv alternates variable names and
// values: T(ctx, "account.signed_in_as", "Username", name).
func T(ctx context.Context, id string, kv ...any) string {
	return catalog.text(from(ctx).lang, id, pairs(kv), nil)
}

// Plural renders message id in the plural form count asks for in ctx's
// language; the message sees count as {{.Count}}.
func Plural(ctx context.Context, id string, count int, kv ...any) string {
	data := pairs(kv)
	if data == nil {
		data = map[string]any{}
	}
	data["Count"] = count
	return catalog.text(from(ctx).lang, id, data, count)
}

func pairs(kv []any) map[string]any {
	if len(kv) == 0 {
		return nil
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok {
			m[k] = kv[i+1]
		}
	}
	return m
}

// FormatTime shows t as a date and time in ctx's language and zone, with
// the layout the catalog gives (format.datetime).
func FormatTime(ctx context.Context, t time.Time) string {
	s := from(ctx)
	return t.In(s.zone).Format(catalog.text(s.lang, "format.datetime", nil, nil))
}

// FormatTimeSeconds is FormatTime to the second, for logs whose entries
// follow each other closely (format.datetime_seconds).
func FormatTimeSeconds(ctx context.Context, t time.Time) string {
	s := from(ctx)
	return t.In(s.zone).Format(catalog.text(s.lang, "format.datetime_seconds", nil, nil))
}

// FormatDate shows t's date in ctx's language and zone (format.date).
func FormatDate(ctx context.Context, t time.Time) string {
	s := from(ctx)
	return t.In(s.zone).Format(catalog.text(s.lang, "format.date", nil, nil))
}

// Duration says d the way a person would in ctx's language: "12 hours",
// "1 hour 30 minutes", "12時間".
func Duration(ctx context.Context, d time.Duration) string {
	d = d.Round(time.Minute)
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	var parts []string
	if days > 0 {
		parts = append(parts, Plural(ctx, "duration.days", days))
	}
	if hours > 0 {
		parts = append(parts, Plural(ctx, "duration.hours", hours))
	}
	if mins > 0 || len(parts) == 0 {
		parts = append(parts, Plural(ctx, "duration.minutes", mins))
	}
	out := parts[len(parts)-1]
	for i := len(parts) - 2; i >= 0; i-- {
		out = T(ctx, "duration.join", "First", parts[i], "Rest", out)
	}
	return out
}

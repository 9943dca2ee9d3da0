package i18n

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// CookieName is the cookie that remembers the language chosen on a page;
// behind TLS it carries the __Host- prefix, as every cookie of authz does.
const CookieName = "authz_lang"

// cookieName is the name the choice is stored and read under: behind TLS
// only the __Host- one, which no neighbouring host can set.
func cookieName(secure bool) string {
	if secure {
		return "__Host-" + CookieName
	}
	return CookieName
}

// Limits on what negotiation reads, so that hostile headers cost nothing:
// longer values are cut, further entries ignored.
const (
	maxHeaderLen = 512
	maxEntries   = 16
)

// Prefs are the inputs of the negotiation, strongest first.
type Prefs struct {
	Cookie         string // the selector's choice
	UILocales      string // OIDC ui_locales: space-separated BCP 47 tags
	AcceptLanguage string
	Default        string // the configured default_locale
}

// Negotiate picks the language: the explicit choice, then ui_locales in its
// order, then Accept-Language by weight, then the default, then Fallback.
// Unknown or malformed values are skipped, never an error.
func Negotiate(p Prefs) string {
	if tag, ok := Canonical(p.Cookie); ok {
		return tag
	}
	for _, t := range strings.Fields(cut(p.UILocales)) {
		if tag, ok := Canonical(t); ok {
			return tag
		}
	}
	if tags, _, err := language.ParseAcceptLanguage(cut(p.AcceptLanguage)); err == nil {
		for i, t := range tags {
			if i == maxEntries {
				break
			}
			if tag, ok := supportedBase(t); ok {
				return tag
			}
		}
	}
	if tag, ok := Canonical(p.Default); ok {
		return tag
	}
	return Fallback
}

func cut(s string) string {
	if len(s) > maxHeaderLen {
		return s[:maxHeaderLen]
	}
	return s
}

// Canonical maps a BCP 47 tag ("ja", "ja-JP", "EN-us") to the supported
// language it names, or reports false for an unsupported or malformed one.
func Canonical(s string) (string, bool) {
	if s == "" || len(s) > 64 {
		return "", false
	}
	t, err := language.Parse(s)
	if err != nil {
		return "", false
	}
	return supportedBase(t)
}

func supportedBase(t language.Tag) (string, bool) {
	base, conf := t.Base()
	if conf == language.No {
		return "", false
	}
	if _, ok := catalog.localizers[base.String()]; ok {
		return base.String(), true
	}
	return "", false
}

// Middleware puts the request's language into its context: the cookie, then
// Accept-Language, then def; zone is the configured time zone. The
// login pipeline adds ui_locales later (WithUILocales), once it has read
// the authorization request. secure says cookies are Secure: only the
// __Host- cookie counts then, which no neighbouring host can set.
func Middleware(def string, zone *time.Location, secure bool, next http.Handler) http.Handler {
	if zone == nil {
		zone = time.UTC
	}
	// Most requests (every machine-to-machine one) state no preference:
	// their language is the default's, parsed once here.
	byDefault := Negotiate(Prefs{Default: def})
	name := cookieName(secure)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := Prefs{AcceptLanguage: r.Header.Get("Accept-Language"), Default: def}
		if c, err := r.Cookie(name); err == nil {
			p.Cookie = c.Value
		}
		lang := byDefault
		if p.Cookie != "" || p.AcceptLanguage != "" {
			lang = Negotiate(p)
		}
		s := state{lang: lang, zone: zone, prefs: p, method: r.Method, page: r.URL}
		w.Header().Set("Content-Language", s.lang)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, s)))
	})
}

// returnPath is the page to show again after a language change: the same
// page for a GET, else the start of the section a form was posted from
// (a form's result cannot be fetched again).
func returnPath(method string, page *url.URL) string {
	if method == http.MethodGet {
		return page.RequestURI()
	}
	for _, section := range []string{"/admin", "/account", "/login"} {
		if page.Path == section || strings.HasPrefix(page.Path, section+"/") {
			return section
		}
	}
	return "/"
}

// SelectHandler serves POST /language: the selector's form, which works
// without script. A supported lang is remembered for a year; anything else
// changes nothing. It answers with a redirect to next when that is a path
// of this server, else to /.
func SelectHandler(secure bool) http.Handler {
	name := cookieName(secure)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if tag, ok := Canonical(r.PostForm.Get("lang")); ok {
			http.SetCookie(w, &http.Cookie{
				Name: name, Value: tag, Path: "/", MaxAge: 365 * 24 * 3600,
				HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
			})
		}
		http.Redirect(w, r, LocalPath(r.PostForm.Get("next")), http.StatusSeeOther)
	})
}

// LocalPath returns next when it is a path on this server, else "/": never
// another host ("//evil", "/\evil", "https://…").
func LocalPath(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

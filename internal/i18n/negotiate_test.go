package i18n

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestMiddlewareAndSelector(t *testing.T) {
	var seen string
	h := Middleware("en", nil, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = Language(r.Context()) + " " + ReturnPath(r.Context())
	}))
	for _, c := range []struct {
		method, target, cookie, accept, want string
	}{
		{"GET", "/login?x=1", "", "ja", "ja /login?x=1"},
		{"GET", "/account", "en", "ja", "en /account"},
		{"GET", "/account", "garbage\xff", "ja", "ja /account"},
		{"POST", "/login/password", "", "", "en /login"},
		{"POST", "/admin/users/1", "ja", "", "ja /admin"},
		{"POST", "/oauth2/logout", "", "", "en /"},
	} {
		r := httptest.NewRequest(c.method, c.target, nil)
		if c.cookie != "" {
			r.AddCookie(&http.Cookie{Name: CookieName, Value: url.QueryEscape(c.cookie)})
			r.Header.Set("Cookie", CookieName+"="+c.cookie)
		}
		if c.accept != "" {
			r.Header.Set("Accept-Language", c.accept)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if seen != c.want {
			t.Errorf("%s %s cookie %q accept %q: %q, want %q", c.method, c.target, c.cookie, c.accept, seen, c.want)
		}
		if w.Header().Get("Content-Language") != strings.Fields(c.want)[0] {
			t.Errorf("Content-Language %q", w.Header().Get("Content-Language"))
		}
	}
}

// A request without cookie or Accept-Language takes the configured default,
// negotiated once when the middleware is built; one with either still
// negotiates.
func TestMiddlewareDefault(t *testing.T) {
	for def, want := range map[string]string{"ja": "ja", "JA-jp": "ja", "xx": Fallback, "": Fallback} {
		var seen string
		h := Middleware(def, nil, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = Language(r.Context())
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/oauth2/token", nil))
		if seen != want {
			t.Errorf("default %q, no preference: %q, want %q", def, seen, want)
		}
		r := httptest.NewRequest("GET", "/login", nil)
		r.Header.Set("Accept-Language", "en-GB")
		h.ServeHTTP(httptest.NewRecorder(), r)
		if seen != "en" {
			t.Errorf("default %q, Accept-Language en-GB: %q, want en", def, seen)
		}
	}
}

func TestSelectHandler(t *testing.T) {
	h := SelectHandler(true)
	post := func(body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/language", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := post("lang=ja-JP&next=%2Flogin%3Fmanual%3D1")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login?manual=1" {
		t.Errorf("answer %d to %q", w.Code, w.Header().Get("Location"))
	}
	c := w.Result().Cookies()
	if len(c) != 1 || c[0].Name != "__Host-authz_lang" || c[0].Path != "/" || c[0].Value != "ja" || !c[0].HttpOnly || !c[0].Secure || c[0].SameSite != http.SameSiteLaxMode {
		t.Errorf("cookie %+v", c)
	}
	// The page that follows reads the choice under its prefixed name, and
	// only there: the plain name is anybody's on a neighbouring host.
	var seen string
	next := Middleware("en", nil, true, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = Language(r.Context()) }))
	r := httptest.NewRequest("GET", "/login", nil)
	r.AddCookie(c[0])
	next.ServeHTTP(httptest.NewRecorder(), r)
	if seen != "ja" {
		t.Errorf("the language after the choice: %q, want ja", seen)
	}
	planted := httptest.NewRequest("GET", "/login", nil)
	planted.AddCookie(&http.Cookie{Name: CookieName, Value: "ja"})
	next.ServeHTTP(httptest.NewRecorder(), planted)
	if seen != "en" {
		t.Errorf("an unprefixed cookie behind TLS chose %q", seen)
	}
	for _, body := range []string{"lang=xx&next=/account", "lang=%00&next=/account", "lang=" + strings.Repeat("j", 100) + "&next=/account"} {
		if w := post(body); len(w.Result().Cookies()) != 0 || w.Header().Get("Location") != "/account" {
			t.Errorf("%q: cookie %v, location %q", body, w.Result().Cookies(), w.Header().Get("Location"))
		}
	}
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "", "login", "/%0d%0aSet-Cookie:x", "/a\r\nb"} {
		if w := post("lang=en&next=" + url.QueryEscape(next)); w.Header().Get("Location") != "/" && next != "/%0d%0aSet-Cookie:x" {
			t.Errorf("next %q led to %q", next, w.Header().Get("Location"))
		}
	}
	if w := post(strings.Repeat("x", 8<<10)); w.Code != http.StatusBadRequest {
		t.Errorf("oversized form: %d", w.Code)
	}
}

func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/", "/login?a=b", "//evil", "/\\evil", "https://x", "/%2F%2Fevil", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := LocalPath(next)
		if got[0] != '/' || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\r\n") {
			t.Fatalf("LocalPath(%q) = %q", next, got)
		}
		if u, err := url.Parse(got); err != nil || u.Host != "" || u.Scheme != "" {
			t.Fatalf("LocalPath(%q) = %q leaves the server", next, got)
		}
	})
}

package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/testsupport/admintest"
)

// requestIn sends method path as the administrator with Accept-Language
// accept and, when not empty, the language selector's cookie; a form is
// posted with the CSRF token.
func requestIn(t *testing.T, e *env, method, path, accept, cookie string, form url.Values) admintest.Response {
	t.Helper()
	var body *strings.Reader
	if form != nil {
		form.Set("csrf", admintest.CSRF(e.Cookie))
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, e.Server.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept-Language", accept)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: i18n.CookieName, Value: cookie})
	}
	return e.Do(req, e.Cookie)
}

func wantAll(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, body)
		}
	}
}

func wantNone(t *testing.T, what, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Errorf("%s has %q", what, w)
		}
	}
}

// TestConsoleInJapanese: a reader whose browser asks for Japanese gets the
// console's headings, buttons, labels, dates and validation errors in
// Japanese, with <html lang="ja">; the selector's cookie outranks the
// browser; a reader asking for English gets English.
func TestConsoleInJapanese(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e *env) {
		const ja = "ja-JP,ja;q=0.9,en;q=0.5"
		e.AddEvent("login.success", e.Admin.ID, "amr=pwd", time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC))
		pages := []struct {
			path  string
			wants []string
		}{
			{"/admin", []string{"<h1>ダッシュボード</h1>", ">ユーザー</a>", ">監査ログ</a>", "認証アプリを登録済みのユーザー", "年"}},
			{"/admin/users", []string{"<h1>ユーザー</h1>", ">検索</button>", ">ユーザーを追加</a>", "<th>OTP設定済み</th>", "<td>管理者</td>", "<td>はい</td>"}},
			{"/admin/users/" + e.Admin.ID, []string{"<h1>ユーザーの編集</h1>", ">OTPをリセット</button>", ">保存</button>", ">OTP設定済み</label>", "作成日時", "年"}},
			{"/admin/clients/new", []string{"<h1>アプリケーションを追加</h1>", ">キャンセル</a>", "リダイレクトURI（1 行に 1 つ）"}},
			{"/admin/providers", []string{"<h1>IDプロバイダー</h1>", ">IDプロバイダーを追加</a>", "IDプロバイダーは設定されていません。"}},
			{"/admin/audit", []string{"<h1>監査ログ</h1>", ">絞り込み</button>", "開始（UTC）", "1 件のイベントを表示しています", "2025年3月4日 10:00:00 UTC"}},
		}
		for _, p := range pages {
			r := requestIn(t, e, http.MethodGet, p.path, ja, "", nil)
			wantStatus(t, r, http.StatusOK)
			wantAll(t, p.path, r.Body, append(p.wants, `<html lang="ja">`)...)
			wantNone(t, p.path, r.Body, "Save", "Search", "Dashboard", "Audit log")
			if got := r.Header.Get("Content-Language"); got != "ja" {
				t.Errorf("%s: Content-Language %q", p.path, got)
			}
		}

		// The add-user form posted empty lists every missing field in Japanese.
		r := requestIn(t, e, http.MethodPost, "/admin/users", ja, "", url.Values{})
		wantStatus(t, r, http.StatusBadRequest)
		if got := text(t, r.Body, "error"); got != "ユーザー名を入力してください。メールアドレスを入力してください。" {
			t.Errorf("empty form, ja: error %q", got)
		}
		// A protocol rule of an application, with the field's name.
		r = requestIn(t, e, http.MethodPost, "/admin/clients", ja, "", url.Values{
			"name": {"アプリ"}, "type": {"confidential"}, "redirect_uris": {"http://app.example/cb"}, "grant_types": {"authorization_code"}})
		wantStatus(t, r, http.StatusBadRequest)
		if got := text(t, r.Body, "error"); got != `リダイレクトURI："http://app.example/cb" には https を使用してください（http はループバックアドレスでのみ使用できます）。` {
			t.Errorf("client rule, ja: error %q", got)
		}
		// A confirmation page.
		r = requestIn(t, e, http.MethodPost, "/admin/users/"+e.Admin.ID+"/reset-otp", ja, "", url.Values{})
		wantStatus(t, r, http.StatusOK)
		wantAll(t, "confirmation", r.Body, "<h1>OTPをリセット</h1>", "root の認証アプリをリセットしますか？", ">キャンセル</a>")

		// The selector's cookie outranks Accept-Language, both ways.
		r = requestIn(t, e, http.MethodGet, "/admin/users", "en", "ja", nil)
		wantAll(t, "cookie ja", r.Body, `<html lang="ja">`, "<h1>ユーザー</h1>")
		r = requestIn(t, e, http.MethodGet, "/admin/users", ja, "en", nil)
		wantAll(t, "cookie en", r.Body, `<html lang="en">`, "<h1>Users</h1>")

		// English stays English, in the words the API uses.
		r = requestIn(t, e, http.MethodGet, "/admin", "en-US,en;q=0.9", "", nil)
		wantAll(t, "en dashboard", r.Body, `<html lang="en">`, "<h1>Dashboard</h1>", ">Audit log</a>")
		r = requestIn(t, e, http.MethodPost, "/admin/users", "en", "", url.Values{})
		wantStatus(t, r, http.StatusBadRequest)
		if got := text(t, r.Body, "error"); got != msgUsernameRequired+" "+msgEmailRequired {
			t.Errorf("empty form, en: error %q", got)
		}
	})
}

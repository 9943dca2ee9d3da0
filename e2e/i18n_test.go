package e2e

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// clickLabel clicks the link or button whose visible text is label.
func (b *tab) clickLabel(label string) {
	b.t.Helper()
	got := b.eval(`(() => { const e = [...document.querySelectorAll("a, button")].find(e => e.innerText.trim() === ` + strconv.Quote(label) + `); if (!e) return "missing"; e.click(); return "ok"; })()`)
	if got != "ok" {
		b.t.Fatalf("no link or button %q at %s:\n%s", label, b.location(), b.body())
	}
}

// fillLabel types value into the field whose visible label is label.
func (b *tab) fillLabel(label, value string) {
	b.t.Helper()
	id := b.eval(`(() => { const l = [...document.querySelectorAll("label")].find(l => l.innerText.trim() === ` + strconv.Quote(label) + `); return l ? l.htmlFor : ""; })()`)
	if id == "" {
		b.t.Fatalf("no field labelled %q at %s:\n%s", label, b.location(), b.body())
	}
	b.fill(id, value)
}

// TestFlowANewUserInJapanese: the administrator gives a new user with a
// Japanese name the preferred language ja; the set-up e-mail comes in
// Japanese (encoded subject), and the user, choosing 日本語 on the page,
// walks the whole set-up by its Japanese labels.
func TestFlowANewUserInJapanese(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		chromium(t)
		in, mb := startWithMail(t, backend)
		used := map[int64]bool{}
		shots := func(name string) string {
			if backend != "sqlite" || os.Getenv("AUTHZ_SCREENSHOTS") == "" {
				return ""
			}
			return filepath.Join("ja", name)
		}
		if shots("x") != "" {
			if err := os.MkdirAll(filepath.Join(os.Getenv("AUTHZ_SCREENSHOTS"), "ja"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		admin := adminTab(t, in, in.createAdmin(t, "root"), used)
		admin.click("add-user")
		admin.waitTitle("Add user")
		admin.fill("username", "yamada")
		admin.fill("email", "yamada@example.test")
		admin.fill("first_name", "太郎")
		admin.fill("last_name", "山田ＴＡＲＯ")
		admin.fill("locale", "ja")
		if !admin.checked("otp_required") {
			admin.toggle("otp_required")
		}
		admin.click("save")
		admin.waitTitle("Edit user")

		msg := mb.waitFor(t, "yamada@example.test")
		if msg.Subject != "アカウントの設定" || !strings.HasPrefix(msg.RawSubject, "=?") {
			t.Errorf("subject %q sent as %q: want Japanese in encoded words", msg.Subject, msg.RawSubject)
		}
		for _, want := range []string{"太郎 様", "yamada", "有効期限"} {
			if !strings.Contains(msg.Text, want) {
				t.Errorf("the e-mail lacks %q:\n%s", want, msg.Text)
			}
		}
		user := newTab(t)
		if shots("x") != "" {
			user.navigate("data:text/html;base64," + base64.StdEncoding.EncodeToString([]byte(msg.HTML)))
			user.screenshot(shots("1-email"))
		}
		user.navigate(msg.link(t))
		user.waitTitle("Set up your account")
		// The selector works without script: a form post, then a cookie.
		user.clickLabel("日本語")
		user.waitTitle("アカウントの設定")
		if lang := user.eval("document.documentElement.lang"); lang != "ja" {
			t.Errorf(`<html lang=%q>, want "ja"`, lang)
		}
		user.screenshot(shots("2-landing"))
		user.clickLabel("続行するにはここをクリック")
		user.waitTitle("認証アプリの設定")
		user.screenshot(shots("3-qr"))
		user.clickLabel("スキャンできない場合")
		user.waitTitle("認証アプリの設定")
		user.screenshot(shots("3-key"))
		secret := strings.ReplaceAll(user.text("otp-key"), " ", "")
		if !strings.Contains(user.body(), "アカウント名") || !strings.Contains(user.text("otp-params"), "時間ベース") {
			t.Errorf("the key page is not in Japanese:\n%s", user.body())
		}
		user.fillLabel("ワンタイムコード", currentCode(t, in, secret, map[int64]bool{}))
		user.screenshot(shots("4-code"))
		user.clickLabel("送信")
		user.waitTitle("リカバリーコード")
		user.screenshot(shots("4b-recovery-codes"))
		user.toggle("codes-saved")
		user.clickLabel("続行")
		user.waitTitle("パスワードの設定")
		user.screenshot(shots("5-password"))
		user.fillLabel("新しいパスワード", "山田さんの長いパスワード")
		user.fillLabel("パスワード（確認）", "山田さんの長いパスワード")
		user.clickLabel("送信")
		user.waitTitle("アカウント")
		user.screenshot(shots("6-signed-in"))
		if name := user.text("account-name"); !strings.Contains(name, "太郎") || !strings.Contains(name, "山田ＴＡＲＯ") {
			t.Errorf("the account page shows the name %q", name)
		}
		if got := user.text("otp-state"); !strings.HasPrefix(got, "認証アプリの設定日：") || !strings.Contains(got, "年") {
			t.Errorf("authenticator state %q, want a Japanese date", got)
		}
		u, err := in.App.Store.GetUserByUsername(t.Context(), "yamada")
		if err != nil || u.FirstName != "太郎" || u.LastName != "山田ＴＡＲＯ" || u.Locale != "ja" {
			t.Errorf("stored user %+v, %v", u, err)
		}
	})
}

package admin

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/authz/authz/internal/federation"
	"github.com/authz/authz/internal/i18n"
	"github.com/authz/authz/internal/oauth"
	"github.com/authz/authz/internal/store"
)

var (
	inEnglish  = i18n.WithLanguage(context.Background(), "en", nil)
	inJapanese = i18n.WithLanguage(context.Background(), "ja", nil)
)

// TestRefusalsInTwoForms: a refusal's Message, which the API and the CLI
// show, is its catalog text in English; the console renders the same
// refusal in its reader's language.
func TestRefusalsInTwoForms(t *testing.T) {
	empty := ""
	err := applyUserPatch(&store.User{Role: store.RoleUser}, UserPatch{Username: &empty, Email: &empty}, true)
	e := AsError(err)
	if e == nil || e.Field != "username" {
		t.Fatalf("empty user: %v", err)
	}
	if want := "Username is required. E-mail is required."; e.Message != want || e.Text(inEnglish) != want {
		t.Errorf("English: Message %q, Text %q, want %q", e.Message, e.Text(inEnglish), want)
	}
	if got, want := e.Text(inJapanese), "ユーザー名を入力してください。メールアドレスを入力してください。"; got != want {
		t.Errorf("Japanese: %q, want %q", got, want)
	}
	if err.Error() != "username: Username is required. E-mail is required." {
		t.Errorf("Error() = %q", err.Error())
	}
	// An Error made without catalog messages shows its Message.
	if got := (&Error{Message: "plain"}).Text(inJapanese); got != "plain" {
		t.Errorf("plain error: %q", got)
	}
	// A mail failure, nested messages and all.
	m := MailResult{Kind: store.ActionReset, Reason: "auth", Code: 535}
	if got := m.Text(); got != "The password reset e-mail could not be sent: the mail server rejected the SMTP login (SMTP reply 535). Check the SMTP settings, then use Send password reset e-mail." {
		t.Errorf("mail failure, English: %q", got)
	}
	if got := m.Localized(inJapanese); !strings.Contains(got, "SMTP 応答 535") || !strings.HasPrefix(got, "パスワードリセットメールを送信できませんでした") {
		t.Errorf("mail failure, Japanese: %q", got)
	}
}

// TestClientRuleReasonsMatchOAuth: the English of every oauth client rule as
// the catalogs word it is oauth's own reason, so the API's messages stay as
// they were; and every rule has its words.
func TestClientRuleReasonsMatchOAuth(t *testing.T) {
	var errs []error
	for _, u := range []string{"not a url", "https://a.example/cb#x", "https://*.example/cb", "https://u:p@a.example/cb", "http://a.example/cb", "ftp://a.example/cb"} {
		errs = append(errs, oauth.ValidateRedirectURI("redirect_uris", u))
	}
	cb := []string{"https://a.example/cb"}
	for _, c := range []struct {
		name   string
		public bool
		redirs []string
		grants []string
		scopes []string
	}{
		{"", false, cb, []string{"authorization_code"}, nil},
		{"App", false, cb, nil, nil},
		{"App", false, cb, []string{"password"}, nil},
		{"App", true, cb, []string{"client_credentials"}, nil},
		{"App", false, nil, []string{"authorization_code"}, nil},
		{"App", false, cb, []string{"authorization_code"}, []string{"a b"}},
		{"App", false, cb, []string{"authorization_code", "authorization_code"}, nil},
	} {
		errs = append(errs, oauth.ValidateClientFields(c.name, c.public, c.redirs, nil, c.grants, c.scopes))
	}
	seen := map[string]bool{}
	for _, err := range errs {
		fe, ok := errors.AsType[*oauth.FieldError](err)
		if !ok {
			t.Fatalf("not a field error: %v", err)
		}
		seen[fe.Rule] = true
		e := AsError(ruleInvalid(fe))
		label := map[string]string{"name": "Name", "redirect_uris": "Redirect URIs", "grant_types": "Grant types", "scopes": "Scopes"}[fe.Field]
		if want := label + ": " + fe.Reason + "."; e.Message != want {
			t.Errorf("rule %s: English %q, oauth says %q", fe.Rule, e.Message, want)
		}
		if ja := e.Text(inJapanese); ja == e.Message || strings.Contains(ja, "admin.err") {
			t.Errorf("rule %s: Japanese %q", fe.Rule, ja)
		}
	}
	for rule := range ruleReasons {
		if !seen[rule] {
			t.Errorf("rule %s is not exercised here", rule)
		}
	}
}

// TestIssuerReasonsMatchFederation: the issuer URL's form errors word
// federation.ValidateIssuerURL's reasons as before.
func TestIssuerReasonsMatchFederation(t *testing.T) {
	for _, v := range []string{"not a url", "ftp://idp.example", "https://idp.example/?x=1", "https://idp.example/#f"} {
		ferr := federation.ValidateIssuerURL(v)
		if ferr == nil {
			t.Fatalf("%q passed federation's check", v)
		}
		if got, want := checkIssuerURL(v).English(), "Issuer URL "+ferr.Error()+"."; got != want {
			t.Errorf("%q: %q, want %q", v, got, want)
		}
	}
}

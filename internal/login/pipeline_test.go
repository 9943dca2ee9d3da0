package login

import (
	"context"
	"net/url"
	"testing"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/testsupport/sqlitetest"
)

// TestNextStep pins the rules of the pipeline in docs/design.md: each step is derived
// from the transaction, the user, the credential and the provider.
func TestNextStep(t *testing.T) {
	ctx := context.Background()
	st := sqlitetest.Open(t)
	if err := st.CreateClient(ctx, &store.Client{ID: "asks", Name: "Asks", RedirectURIs: []string{"https://a/cb"}, GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateClient(ctx, &store.Client{ID: "trusted", Name: "Trusted", SkipConsent: true, RedirectURIs: []string{"https://a/cb"}, GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid"}}); err != nil {
		t.Fatal(err)
	}
	p := &Pipeline{Store: st}
	user := func(otp bool) *store.User { return &store.User{ID: "u", OTPRequired: otp, Enabled: true} }
	cred := &store.OTPCredential{UserID: "u"}
	remembered := &store.RememberedBrowser{ID: "b", UserID: "u"}
	keys := []*store.WebAuthnCredential{{UserID: "u"}}
	auth := url.Values{"scope": {"openid"}}.Encode()
	cases := []struct {
		name string
		st   state
		want step
	}{
		{"nobody yet", state{lt: &store.LoginTransaction{}}, stepPassword},
		{"flag on, no authenticator", state{lt: &store.LoginTransaction{AMR: []string{"pwd"}}, user: user(true)}, stepEnroll},
		{"authenticator, password only", state{lt: &store.LoginTransaction{AMR: []string{"pwd"}}, user: user(true), cred: cred}, stepOTP},
		{"authenticator, both factors", state{lt: &store.LoginTransaction{AMR: []string{"pwd", "otp"}}, user: user(true), cred: cred}, stepFinish},
		{"no flag, no authenticator", state{lt: &store.LoginTransaction{AMR: []string{"pwd"}}, user: user(false)}, stepFinish},
		{"set-up link: enroll first", state{lt: &store.LoginTransaction{Purpose: store.PurposeSetup}, user: user(true)}, stepEnroll},
		{"set-up link: then the password", state{lt: &store.LoginTransaction{Purpose: store.PurposeSetup, AMR: []string{"otp"}}, user: user(true), cred: cred}, stepSetPassword},
		{"reset link: the code before the password", state{lt: &store.LoginTransaction{Purpose: store.PurposeSetup}, user: user(true), cred: cred}, stepOTP},
		{"remembered browser skips the code of a sign-in", state{lt: &store.LoginTransaction{Purpose: store.PurposeLogin, AMR: []string{"pwd"}}, user: user(true), cred: cred, remembered: remembered}, stepFinish},
		{"remembered browser: a reset link still asks for the code", state{lt: &store.LoginTransaction{Purpose: store.PurposeSetup}, user: user(true), cred: cred, remembered: remembered}, stepOTP},
		{"remembered browser: a reset link with a security key only", state{lt: &store.LoginTransaction{Purpose: store.PurposeSetup}, user: user(false), keys: keys, remembered: remembered}, stepOTP},
		{"upstream login skips the code", state{lt: &store.LoginTransaction{AMR: []string{"fed"}}, user: user(true), cred: cred, otpWaived: true}, stepFinish},
		{"upstream login skips enrollment", state{lt: &store.LoginTransaction{AMR: []string{"fed"}}, user: user(true), otpWaived: true}, stepFinish},
		{"upstream login that requires OTP", state{lt: &store.LoginTransaction{AMR: []string{"fed"}}, user: user(true), cred: cred}, stepOTP},
		{"client that asks for consent", state{lt: &store.LoginTransaction{AMR: []string{"pwd"}, AuthRequest: auth, ClientID: "asks"}, user: user(false)}, stepConsent},
		{"client that skips consent", state{lt: &store.LoginTransaction{AMR: []string{"pwd"}, AuthRequest: auth, ClientID: "trusted"}, user: user(false)}, stepFinish},
	}
	for _, c := range cases {
		got, err := p.next(ctx, &c.st)
		if err != nil || got != c.want {
			t.Errorf("%s: step %d (%v), want %d", c.name, got, err, c.want)
		}
	}
}

package e2e

import (
	"context"
	"testing"
)

// A Japanese username and name round-trip through the store, the sign-in
// form and the ID token; a name typed in full-width letters, as Japanese
// input methods type them, finds its ASCII account.
func TestJapaneseUsernameSignsIn(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, backend string) {
		in := startServer(t, backend)
		id, secret := in.createClient(clientSpec{SkipConsent: true})
		r := newRP(t, in, id, secret)
		u := in.createUser("yamada", false)
		u.Username, u.FirstName, u.LastName = "山田太郎", "太郎", "山田"
		if err := in.App.Store.UpdateUser(context.Background(), u.User); err != nil {
			t.Fatal(err)
		}
		_, _, idt := signIn(t, in, r, u)
		var c struct {
			PreferredUsername string `json:"preferred_username"`
			Name              string `json:"name"`
			GivenName         string `json:"given_name"`
			FamilyName        string `json:"family_name"`
		}
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		if c.PreferredUsername != "山田太郎" || c.GivenName != "太郎" || c.FamilyName != "山田" || c.Name == "" {
			t.Errorf("ID token claims %+v", c)
		}

		alice := in.createUser("alice7", false)
		alice.Username = "ａｌｉｃｅ７"
		if _, _, idt := signIn(t, in, r, alice); idt.Subject != alice.ID {
			t.Errorf("full-width username signed in as %q, want %q", idt.Subject, alice.ID)
		}
	})
}

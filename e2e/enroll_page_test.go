package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

// TestEnrollErrorKeepsTheMode: a wrong code typed in the "Can't scan?" key
// view comes back in that view, with the error next to the code field, the
// field marked invalid and focused; the key view names the account to type.
func TestEnrollErrorKeepsTheMode(t *testing.T) {
	chromium(t)
	in := startServer(t, "sqlite")
	u := in.newSetupUser(t, "keymode", true)
	b := newTab(t)
	b.navigate(in.issueLink(t, u.ID, store.ActionSetup, time.Hour, time.Now()) + "?continue=1")
	b.waitTitle("Mobile authenticator setup")
	b.click("mode-manual")
	b.waitTitle("Mobile authenticator setup")
	if got := b.text("otp-account"); got != "keymode" {
		t.Errorf("account name in the key view: %q", got)
	}
	b.fill("otp", "000000")
	b.click("submit-otp")
	b.waitTitle("Mobile authenticator setup")
	if key := b.eval(`document.getElementById("otp-key") ? "key" : "qr"`); key != "key" {
		t.Errorf("after a wrong code the page switched to the %s view", key)
	}
	state := b.eval(`[document.getElementById("otp").getAttribute("aria-invalid"),
		document.getElementById("otp").getAttribute("aria-describedby"),
		document.activeElement ? document.activeElement.id : ""].join(" ")`)
	if state != "true otp-error otp" {
		t.Errorf("code field after a wrong code: aria-invalid, aria-describedby, focus = %q", state)
	}
	if msg := b.text("otp-error"); !strings.Contains(msg, "Invalid authenticator code") {
		t.Errorf("error next to the field: %q", msg)
	}
}

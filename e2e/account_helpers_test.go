package e2e

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// saveRecoveryCodes reads the recovery codes the page after enrollment shows,
// confirms having saved them, and returns them.
func (b *tab) saveRecoveryCodes(shot string) []string {
	b.t.Helper()
	b.waitTitle("Your recovery codes")
	codes := strings.Fields(b.text("recovery-codes"))
	if len(codes) != 10 {
		b.t.Fatalf("the recovery-code page must show 10 codes, got %q", codes)
	}
	b.screenshot(shot)
	// The box must be ticked: the form says so, without script.
	if req := b.eval(`String(document.getElementById("codes-saved").required)`); req != "true" {
		b.t.Errorf("the saved-codes box is not required: %q", req)
	}
	b.toggle("codes-saved")
	b.click("submit-codes-saved")
	return codes
}

var codePattern = regexp.MustCompile(`<li>([2-9A-Z]{5}-[2-9A-Z]{5})</li>`)

// confirmRecoveryCodes confirms the recovery-code page p of an HTTP browser
// and returns its codes and the page that follows.
func (b *browser) confirmRecoveryCodes(t *testing.T, p *page) ([]string, *page) {
	t.Helper()
	var codes []string
	for _, m := range codePattern.FindAllStringSubmatch(p.Body, -1) {
		codes = append(codes, m[1])
	}
	if len(codes) != 10 {
		t.Fatalf("the page after enrollment must show 10 recovery codes:\n%s", p.Body)
	}
	return codes, b.submit(p, "/login/recovery-codes", url.Values{"saved": {"yes"}})
}

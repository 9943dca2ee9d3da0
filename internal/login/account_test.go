package login

import "testing"

func TestDescribeBrowser(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/140.0.0.0 Safari/537.36":                           "Chrome on Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0":                   "Edge on Windows",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1": "Safari on iOS",
		"Mozilla/5.0 (Android 14; Mobile; rv:120.0) Gecko/120.0 Firefox/120.0":                                                                    "Firefox on Android",
		"":                 "Unknown browser",
		"<script>\x00\xff": "Unknown browser",
	} {
		if got := describeBrowser(t.Context(), ua); got != want {
			t.Errorf("describeBrowser(%q) = %q, want %q", ua, got, want)
		}
	}
}

func FuzzDescribeBrowser(f *testing.F) {
	f.Add("Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0")
	f.Add("")
	f.Fuzz(func(t *testing.T, ua string) {
		if describeBrowser(t.Context(), ua) == "" {
			t.Fatalf("describeBrowser(%q) is empty", ua)
		}
	})
}

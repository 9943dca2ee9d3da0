package mfa

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/pquerna/otp"
)

// rfcSecret is the SHA1 seed of RFC 6238 Appendix B, "12345678901234567890".
var rfcSecret = base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))

func TestCodeRFC6238Vectors(t *testing.T) {
	// RFC 6238 Appendix B, SHA1; the 6-digit code is the last 6 of the 8 digits.
	for _, v := range []struct {
		unix  int64
		eight string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		at := time.Unix(v.unix, 0)
		got, err := Code(rfcSecret, at)
		if err != nil {
			t.Fatalf("Code(%d): %v", v.unix, err)
		}
		if want := v.eight[2:]; got != want {
			t.Errorf("Code(%d) = %s, want %s", v.unix, got, want)
		}
		if step, ok := MatchStep(rfcSecret, v.eight[2:], at); !ok || step != v.unix/30 {
			t.Errorf("MatchStep(%d) = %d, %v; want %d, true", v.unix, step, ok, v.unix/30)
		}
	}
}

func TestStep(t *testing.T) {
	for unix, want := range map[int64]int64{0: 0, 29: 0, 30: 1, 59: 1, 60: 2, -1: -1, -30: -1, -31: -2} {
		if got := Step(time.Unix(unix, 0)); got != want {
			t.Errorf("Step(%d) = %d, want %d", unix, got, want)
		}
	}
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if a == b {
		t.Fatal("two secrets are equal")
	}
	if len(a) != 32 || strings.Contains(a, "=") || strings.ToUpper(a) != a {
		t.Errorf("secret %q: want 32 upper-case base32 characters without padding", a)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(a)
	if err != nil || len(raw) != SecretSize {
		t.Errorf("secret %q decodes to %d bytes (err %v), want %d", a, len(raw), err, SecretSize)
	}
}

func TestKeyURI(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	got := KeyURI("authz", "alice", secret)
	want := "otpauth://totp/authz:alice?secret=" + secret + "&issuer=authz&algorithm=SHA1&digits=6&period=30"
	if got != want {
		t.Errorf("KeyURI =\n %s\nwant\n %s", got, want)
	}
}

func TestKeyURIEscaping(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	for _, c := range []struct{ issuer, account string }{
		{"ACME Corp", "alice@example.com"},
		{"A&B=C", "bob:smith?x#y"},
		{"Zürich IT", "jörg+test@example.com"},
		{"authz", "100%/sure"},
	} {
		uri := KeyURI(c.issuer, c.account, secret)
		if strings.ContainsAny(uri[len("otpauth://totp/"):], " +#") {
			t.Errorf("%q: unescaped character in %s", c, uri)
		}
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatalf("%q: url.Parse: %v", c, err)
		}
		q := u.Query()
		if q.Get("issuer") != c.issuer || q.Get("secret") != secret {
			t.Errorf("%q: query %v", c, q)
		}
		// What the apps do, as implemented by the otp library the server uses.
		key, err := otp.NewKeyFromURL(uri)
		if err != nil {
			t.Fatalf("%q: NewKeyFromURL: %v", c, err)
		}
		if key.Type() != "totp" || key.Issuer() != c.issuer || key.Secret() != secret ||
			key.Algorithm() != otp.AlgorithmSHA1 || key.Digits() != otp.DigitsSix || key.Period() != 30 {
			t.Errorf("%q: parsed key %s: type %s issuer %q secret %q", c, uri, key.Type(), key.Issuer(), key.Secret())
		}
		if label := strings.TrimPrefix(u.Path, "/"); label != c.issuer+":"+c.account {
			t.Errorf("%q: label %q", c, label)
		}
	}
}

func TestKeyURIWithoutIssuer(t *testing.T) {
	uri := KeyURI("", "alice", "JBSWY3DPEHPK3PXP")
	if strings.Contains(uri, "issuer") || !strings.HasPrefix(uri, "otpauth://totp/alice?") {
		t.Errorf("KeyURI without issuer = %s", uri)
	}
}

func TestGroupKey(t *testing.T) {
	for in, want := range map[string]string{
		"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP": "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP",
		"jbswy3dpehp":                      "JBSW Y3DP EHP",
		"JBSW Y3DP":                        "JBSW Y3DP",
		"":                                 "",
	} {
		if got := GroupKey(in); got != want {
			t.Errorf("GroupKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGroupedKeyStillWorks(t *testing.T) {
	secret, _ := NewSecret()
	now := time.Now()
	a, err := Code(secret, now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Code(strings.ToLower(GroupKey(secret)), now)
	if err != nil || a != b {
		t.Fatalf("grouped key gives %q (err %v), want %q", b, err, a)
	}
}

func TestCodeRejectsBadSecret(t *testing.T) {
	for _, s := range []string{"", "JBSWY3DPEHPK3PXP" /* 10 bytes */, "not base32!", "11111111111111111111111111111111"} {
		if _, err := Code(s, time.Now()); !errors.Is(err, ErrInvalidSecret) {
			t.Errorf("Code(%q) = %v, want ErrInvalidSecret", s, err)
		}
		if _, ok := MatchStep(s, "123456", time.Now()); ok {
			t.Errorf("MatchStep(%q) matched", s)
		}
	}
}

func TestParseCode(t *testing.T) {
	for in, want := range map[string]string{
		"123456":       "123456",
		" 123456 ":     "123456",
		"123 456":      "123456",
		"\t000000\n":   "000000",
		"0 1 2 3 4 5 ": "012345",
	} {
		got, err := ParseCode(in)
		if err != nil || got != want {
			t.Errorf("ParseCode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]error{
		"":                      ErrCodeEmpty,
		"   ":                   ErrCodeEmpty,
		"12345":                 ErrCodeFormat,
		"1234567":               ErrCodeFormat,
		"12345a":                ErrCodeFormat,
		"abcdef":                ErrCodeFormat,
		"12-456":                ErrCodeFormat,
		"١٢٣٤٥٦":                ErrCodeFormat, // Arabic-Indic digits
		"１２３４５６":                ErrCodeFormat, // full-width digits
		strings.Repeat("1", 99): ErrCodeFormat,
		strings.Repeat(" ", 99): ErrCodeFormat,
	} {
		if _, err := ParseCode(in); !errors.Is(err, want) {
			t.Errorf("ParseCode(%q) error = %v, want %v", in, err, want)
		}
	}
}

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"123456", " 123 456 ", "", "12345a", "1234567", "١٢٣٤٥٦", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		code, err := ParseCode(in)
		if err != nil {
			if !errors.Is(err, ErrCodeEmpty) && !errors.Is(err, ErrCodeFormat) {
				t.Fatalf("ParseCode(%q): unexpected error %v", in, err)
			}
			if code != "" {
				t.Fatalf("ParseCode(%q) returned %q with an error", in, code)
			}
			return
		}
		if len(code) != Digits {
			t.Fatalf("ParseCode(%q) = %q: not %d characters", in, code, Digits)
		}
		for _, c := range []byte(code) {
			if c < '0' || c > '9' {
				t.Fatalf("ParseCode(%q) = %q: not ASCII digits", in, code)
			}
		}
		if again, err := ParseCode(code); err != nil || again != code {
			t.Fatalf("ParseCode not idempotent on %q", code)
		}
		if strings.Join(strings.Fields(in), "") != code {
			t.Fatalf("ParseCode(%q) = %q: changed more than spaces", in, code)
		}
	})
}

func TestMatchStepWindow(t *testing.T) {
	secret, _ := NewSecret()
	// Mid-step, so that ±n steps is unambiguous.
	now := time.Unix(1_750_000_015, 0)
	current := Step(now)
	for delta := int64(-3); delta <= 3; delta++ {
		code, err := Code(secret, now.Add(time.Duration(delta)*Period))
		if err != nil {
			t.Fatal(err)
		}
		step, ok := MatchStep(secret, code, now)
		wantOK := delta >= -Skew && delta <= Skew
		if ok != wantOK {
			// A code of another step may collide with a window code (1e-6).
			t.Errorf("code of step %+d: ok = %v, want %v", delta, ok, wantOK)
			continue
		}
		if ok && step != current+delta {
			t.Errorf("code of step %+d matched step %d, want %d", delta, step, current+delta)
		}
	}
}

func TestMatchStepRejectsWrongCodes(t *testing.T) {
	secret, _ := NewSecret()
	now := time.Now()
	right, _ := Code(secret, now)
	for _, code := range []string{"", "12345", "1234567", right + "0", right[:5]} {
		if _, ok := MatchStep(secret, code, now); ok {
			t.Errorf("MatchStep accepted %q", code)
		}
	}
	wrong := []byte(right)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10
	if _, ok := MatchStep(secret, string(wrong), now); ok {
		// Possible only if the altered code is valid in a neighbouring step.
		prev, _ := Code(secret, now.Add(-Period))
		next, _ := Code(secret, now.Add(Period))
		if string(wrong) != prev && string(wrong) != next {
			t.Errorf("MatchStep accepted wrong code %s", wrong)
		}
	}
}

func TestQRCodePNGDecodesToURI(t *testing.T) {
	secret, _ := NewSecret()
	uri := KeyURI("ACME Corp", "alice.long-name@example.com", secret)
	for _, size := range []int{120, 200, 256, 512} {
		b, err := QRCodePNG(uri, size)
		if err != nil {
			t.Fatalf("QRCodePNG(%d): %v", size, err)
		}
		if got := decodeQR(t, b, size); got != uri {
			t.Errorf("size %d: QR decodes to %q, want %q", size, got, uri)
		}
	}
}

func TestQRCodePNGTooSmall(t *testing.T) {
	if _, err := QRCodePNG(KeyURI("authz", "alice", "JBSWY3DPEHPK3PXP"), 20); err == nil {
		t.Fatal("QRCodePNG fitted a QR code into 20 pixels")
	}
}

func TestQRCodeDataURI(t *testing.T) {
	uri := KeyURI("authz", "alice", rfcSecret)
	data, err := QRCodeDataURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "data:image/png;base64,"
	if !strings.HasPrefix(data, prefix) {
		t.Fatalf("data URI starts %.30q", data)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(data, prefix))
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeQR(t, b, DefaultQRSize); got != uri {
		t.Errorf("QR decodes to %q, want %q", got, uri)
	}
}

// decodeQR reads a PNG the way a phone would, with an independent decoder.
func decodeQR(t *testing.T, b []byte, size int) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("png.Decode: %v", err)
	}
	if r := img.Bounds(); r.Dx() != size || r.Dy() != size {
		t.Fatalf("image is %v, want %d×%d", r, size, size)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	hints := map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: false}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, hints)
	if err != nil {
		t.Fatalf("decode QR: %v", err)
	}
	return res.GetText()
}

func BenchmarkMatchStep(b *testing.B) {
	secret, _ := NewSecret()
	now := time.Now()
	code, _ := Code(secret, now)
	for b.Loop() {
		if _, ok := MatchStep(secret, code, now); !ok {
			b.Fatal("no match")
		}
	}
}

package views

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
)

//go:embed static
var static embed.FS

// Static holds the stylesheet served under /static/.
var Static, _ = fs.Sub(static, "static")

// WebAuthnScript is the path of the ceremony script. The CSP allows it and
// FormPostScript by their hashes, and no inline script.
const WebAuthnScript = "/static/webauthn.js"

// FormPostScript is the path of the script that posts a form_post
// authorization response.
const FormPostScript = "/static/formpost.js"

// WebAuthnScriptIntegrity is the script's SRI value; WebAuthnScriptHash
// the same digest as a CSP source.
var WebAuthnScriptIntegrity, WebAuthnScriptHash = scriptHash("static/webauthn.js")

// FormPostScriptIntegrity and FormPostScriptHash are FormPostScript's.
var FormPostScriptIntegrity, FormPostScriptHash = scriptHash("static/formpost.js")

func scriptHash(name string) (integrity, source string) {
	b, err := static.ReadFile(name)
	if err != nil {
		panic("views: " + err.Error())
	}
	sum := sha256.Sum256(b)
	integrity = "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
	return integrity, "'" + integrity + "'"
}

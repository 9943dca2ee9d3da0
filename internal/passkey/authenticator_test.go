package passkey

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// softKey is a software authenticator: just enough of one to answer the
// ceremonies as a browser would, and to misbehave on purpose (another
// origin, another RP ID, a counter that goes back).
type softKey struct {
	t       testing.TB
	key     *ecdsa.PrivateKey
	id      []byte
	counter uint32
	// origin and rpID are what the "browser" reports; a test changes them
	// to play a phishing site.
	origin, rpID string
}

func newSoftKey(t testing.TB, origin, rpID string) *softKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return &softKey{t: t, key: k, id: id, origin: origin, rpID: rpID}
}

var b64 = base64.RawURLEncoding

// challenge reads the challenge out of the options the server sent.
func challenge(t testing.TB, options []byte) string {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("options without a challenge: %s (%v)", options, err)
	}
	return o.PublicKey.Challenge
}

func (k *softKey) clientData(typ, chal string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": chal, "origin": k.origin, "crossOrigin": false})
	return b
}

// authData is rpIdHash | flags (UP, UV, and AT when attested) | counter | [attested credential].
func (k *softKey) authData(attested bool) []byte {
	h := sha256.Sum256([]byte(k.rpID))
	flags := byte(0x01 | 0x04)
	if attested {
		flags |= 0x40
	}
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, k.counter)
	if attested {
		out = append(out, make([]byte, 16)...) // AAGUID: none
		out = binary.BigEndian.AppendUint16(out, uint16(len(k.id)))
		out = append(out, k.id...)
		cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1,
			-2: k.key.X.FillBytes(make([]byte, 32)), -3: k.key.Y.FillBytes(make([]byte, 32))})
		if err != nil {
			k.t.Fatal(err)
		}
		out = append(out, cose...)
	}
	return out
}

// create answers registration options as navigator.credentials.create would.
func (k *softKey) create(options []byte) []byte {
	cd := k.clientData("webauthn.create", challenge(k.t, options))
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": k.authData(true)})
	if err != nil {
		k.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(cd), "attestationObject": b64.EncodeToString(att)},
	})
	return b
}

// get answers sign-in options as navigator.credentials.get would, counting
// one more signature.
func (k *softKey) get(options []byte, userHandle []byte) []byte {
	k.counter++
	return k.sign(challenge(k.t, options), userHandle)
}

func (k *softKey) sign(chal string, userHandle []byte) []byte {
	cd := k.clientData("webauthn.get", chal)
	ad := k.authData(false)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, digest[:])
	if err != nil {
		k.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(ad),
			"signature": b64.EncodeToString(sig), "userHandle": b64.EncodeToString(userHandle)},
	})
	return b
}

package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"sync/atomic"
	"time"

	jose4 "github.com/go-jose/go-jose/v4"
)

// jwtSigningRate is how many access-token-sized JWTs this machine signs a
// second with alg (RS256 with a 2048-bit key, or ES256), one signer on each
// of procs cores for d, in the bench process while the server idles: the
// ceiling of the JWT client-credentials scenario, measured in the same run.
func jwtSigningRate(alg string, procs int, d time.Duration) float64 {
	var key crypto.Signer
	var err error
	if alg == "ES256" {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		alg = "RS256"
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		return 0
	}
	payload := []byte(`{"iss":"http://127.0.0.1:8080","sub":"authz-load-0000-jwt-machine","aud":["authz-load-0000-jwt-machine"],` +
		`"client_id":"authz-load-0000-jwt-machine","scope":"api.read","jti":"0123456789abcdef0123456789ab","exp":1900000000,"iat":1800000000}`)
	var signed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range procs {
		wg.Go(func() {
			for time.Since(start) < d {
				s, err := jose4.NewSigner(jose4.SigningKey{Algorithm: jose4.SignatureAlgorithm(alg), Key: key},
					(&jose4.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k"))
				if err != nil {
					return
				}
				jws, err := s.Sign(payload)
				if err != nil {
					return
				}
				if _, err := jws.CompactSerialize(); err == nil {
					signed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(signed.Load()) / time.Since(start).Seconds()
}

// Package testkeys hands tests signing keys made once per test process. An
// RSA key takes tens of milliseconds to make, over a second under the race
// detector, and a test package may start a hundred servers:
//
//	app, err := server.Open(ctx, cfg, log, console, server.WithKeyGenerator(testkeys.Generator()))
package testkeys

import (
	"crypto"
	"sync"

	"github.com/authz/authz/internal/oauth"
)

var (
	mu   sync.Mutex
	made = map[string][]crypto.Signer{}
)

// Generator returns the key generator of one server: its n-th key for an
// algorithm is the process's n-th, made on first use. Servers of one process
// thus share keys, which separate issuers may, while each server's own
// rotations still get keys distinct from each other.
func Generator() func(alg string) (crypto.Signer, error) {
	var gmu sync.Mutex
	used := map[string]int{}
	return func(alg string) (crypto.Signer, error) {
		gmu.Lock()
		n := used[alg]
		used[alg]++
		gmu.Unlock()
		return nth(alg, n)
	}
}

// nth returns the process's n-th key for alg, making the keys up to it.
func nth(alg string, n int) (crypto.Signer, error) {
	mu.Lock()
	defer mu.Unlock()
	for len(made[alg]) <= n {
		k, err := oauth.GenerateKey(alg)
		if err != nil {
			return nil, err
		}
		made[alg] = append(made[alg], k)
	}
	return made[alg][n], nil
}

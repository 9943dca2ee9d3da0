package sqlite

import (
	"testing"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/store/storetest"
)

func BenchmarkTokenRequests(b *testing.B) {
	storetest.Bench(b, func(tb testing.TB) store.Store { return newStore(tb) })
}

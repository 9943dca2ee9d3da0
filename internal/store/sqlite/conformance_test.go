package sqlite_test

import (
	"testing"

	"github.com/authz/authz/internal/store"
	"github.com/authz/authz/internal/store/storetest"
	"github.com/authz/authz/internal/testsupport/sqlitetest"
)

// The conformance suite runs on copies of one migrated database (sqlitetest):
// migrating each of its hundreds of stores would cost more than the suite's
// own statements. Migrate itself is tested in sqlite_test.go.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return sqlitetest.Open(t) })
}

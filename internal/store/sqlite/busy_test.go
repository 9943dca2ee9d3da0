package sqlite

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

// A write that finds the database locked by another connection (another
// process, such as the admin CLI) is a transaction lost to a concurrent one:
// store.ErrRetry, which InTx runs again, and never store.ErrConflict. Since
// a statement has waited out the busy timeout already, to its caller the
// store is also unavailable.
func TestBusyIsRetry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authz.db")
	s := open(t, path)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A second connection to the file, like another process's, that does
	// not wait for locks at all.
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	txCtx, err := s.BeginTx(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Rollback(txCtx)
	now := time.Now().UTC()
	u := &store.User{ID: store.NewID(), Username: "alice", Enabled: true, Role: store.RoleUser, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateUser(txCtx, u); err != nil {
		t.Fatal(err)
	}

	_, err = other.ExecContext(t.Context(), `DELETE FROM sessions`)
	if err == nil {
		t.Fatal("a write succeeded while another connection held the write lock")
	}
	err = classify(err)
	if !errors.Is(err, store.ErrRetry) || !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("database locked: %v, want ErrRetry and ErrUnavailable", err)
	}
	if errors.Is(err, store.ErrConflict) {
		t.Errorf("database locked: %v, contention taken for a conflict", err)
	}
}

// Package sqlitetest gives tests migrated SQLite databases of their own, each
// a copy of one migrated once per test process. Migrating a database costs
// tens of milliseconds of SQL parsing, several times that under the race
// detector, and a test package may open hundreds:
//
//	st := sqlitetest.Open(t)
//
// A test that starts a server on a data directory puts the copy where the
// server will look for it (Place) before it starts.
package sqlitetest

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/authz/authz/internal/store/sqlite"
)

var image = sync.OnceValues(migratedImage)

// files is a database: the main file and, when the last connection left one,
// its write-ahead log, which SQLite replays when it next opens the pair.
type files struct{ db, wal []byte }

// migratedImage migrates a database in a directory of its own and returns
// its files.
func migratedImage() (files, error) {
	dir, err := os.MkdirTemp("", "authz-sqlitetest-")
	if err != nil {
		return files{}, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "authz.db")
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return files{}, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return files{}, err
	}
	if err := st.Close(); err != nil {
		return files{}, err
	}
	var f files
	if f.db, err = os.ReadFile(path); err != nil {
		return files{}, err
	}
	if f.wal, err = os.ReadFile(path + "-wal"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return files{}, err
	}
	return f, nil
}

// Place writes a migrated database to path, readable by its owner only as
// sqlite.Open makes it.
func Place(t testing.TB, path string) {
	t.Helper()
	f, err := image()
	if err != nil {
		t.Fatalf("sqlitetest: migrate the image: %v", err)
	}
	if err := os.WriteFile(path, f.db, 0o600); err != nil {
		t.Fatalf("sqlitetest: %v", err)
	}
	if f.wal != nil {
		if err := os.WriteFile(path+"-wal", f.wal, 0o600); err != nil {
			t.Fatalf("sqlitetest: %v", err)
		}
	}
}

// Open opens a migrated database of the test's own in a temporary directory
// and closes it when the test ends.
func Open(t testing.TB) *sqlite.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "authz.db")
	Place(t, path)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("sqlite close: %v", err)
		}
	})
	// Nothing to apply, unless the image is behind the migrations: then the
	// test still gets the schema it expects.
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("sqlite migrate: %v", err)
	}
	return st
}

// Package migrations holds authz's SQL schema migrations, one folder a dialect,
// embedded into the binary so that `authz migrate` needs no files on disk.
//
// A migration file is named NNNN_name.sql; NNNN is its version. Versions are
// applied in ascending order and each is applied at most once.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// FS holds every dialect's migration files, under postgres/ and sqlite/.
//
//go:embed postgres/*.sql sqlite/*.sql
var FS embed.FS

// Migration is one schema change of a dialect.
type Migration struct {
	Version int
	Name    string // the file name without version and extension: "init"
	SQL     string
}

// Status is one migration as a backend sees it.
type Status struct {
	Version int
	Name    string
	// AppliedAt is when the migration was applied; zero while it is pending.
	AppliedAt time.Time
}

// List returns the migrations of dialect ("postgres" or "sqlite") sorted by
// version. It fails on a misnamed file or a version used twice, so a mistake
// is caught by the first test rather than by a half-migrated database.
func List(dialect string) ([]Migration, error) {
	entries, err := fs.ReadDir(FS, dialect)
	if err != nil {
		return nil, fmt.Errorf("migrations: dialect %q: %w", dialect, err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		m, err := load(dialect, e.Name())
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[m.Version]; dup {
			return nil, fmt.Errorf("migrations: %s: version %d used by %s and %s", dialect, m.Version, prev, e.Name())
		}
		seen[m.Version] = e.Name()
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// load reads one migration file and parses its NNNN_name.sql file name.
func load(dialect, file string) (Migration, error) {
	num, name, ok := strings.Cut(strings.TrimSuffix(file, ".sql"), "_")
	v, err := strconv.Atoi(num)
	if !ok || err != nil || v <= 0 || name == "" {
		return Migration{}, fmt.Errorf("migrations: %s/%s: want a name like 0001_init.sql", dialect, file)
	}
	b, err := FS.ReadFile(path.Join(dialect, file))
	if err != nil {
		return Migration{}, fmt.Errorf("migrations: read %s/%s: %w", dialect, file, err)
	}
	return Migration{Version: v, Name: name, SQL: string(b)}, nil
}

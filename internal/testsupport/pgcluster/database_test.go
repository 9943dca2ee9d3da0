package pgcluster_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authz/authz/internal/testsupport/pgcluster"
	"github.com/authz/authz/internal/testsupport/pgtest"
)

// CreateDatabase makes a database of its own from a server URL in either
// form, and drop removes it even while a connection to it is open.
func TestCreateDatabase(t *testing.T) {
	server := pgtest.URL(t)
	cfg, err := pgx.ParseConfig(server)
	if err != nil {
		t.Fatal(err)
	}
	keyValue := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", cfg.Host, cfg.Port, cfg.User, cfg.Database)
	if cfg.Password != "" {
		keyValue += " password=" + cfg.Password
	}
	for name, serverURL := range map[string]string{"url": server, "key=value": keyValue} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			dbURL, drop, err := pgcluster.CreateDatabase(ctx, serverURL, "authz_cd_")
			if err != nil {
				t.Fatal(err)
			}
			conn, err := pgx.Connect(ctx, dbURL)
			if err != nil {
				t.Fatalf("connect to the new database: %v", err)
			}
			defer conn.Close(ctx)
			var db string
			if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(db, "authz_cd_") || db == cfg.Database {
				t.Fatalf("connected to %q, want a new authz_cd_ database", db)
			}
			if err := drop(ctx); err != nil {
				t.Fatalf("drop with a connection open: %v", err)
			}
			if c, err := pgx.Connect(ctx, dbURL); err == nil {
				c.Close(ctx)
				t.Fatal("the dropped database still accepts connections")
			}
		})
	}
}

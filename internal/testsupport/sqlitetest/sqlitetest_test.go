package sqlitetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/authz/authz/internal/store"
)

// Each test gets a database of its own, at the current schema, that outlives
// a copy made after it.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	a := Open(t)
	u := &store.User{ID: store.NewID(), Username: "ann", Email: "ann@example.com", CreatedAt: time.Now().UTC()}
	if err := a.CreateUser(ctx, u); err != nil {
		t.Fatalf("the copy is not at the current schema: %v", err)
	}
	b := Open(t)
	if _, err := b.GetUser(ctx, u.ID); err == nil {
		t.Fatal("a second database shares the first's rows")
	}
	if _, err := a.GetUser(ctx, u.ID); err != nil {
		t.Fatalf("the first lost its row: %v", err)
	}
	img, _ := image()
	if !bytes.HasPrefix(img.db, []byte("SQLite format 3\x00")) {
		t.Fatal("the image is not a SQLite database file")
	}
}

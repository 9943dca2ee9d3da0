package store

import "context"

type readCommittedKey struct{}

// ReadCommitted returns ctx asking BeginTx for a transaction that needs no
// serializable isolation: one whose only guard against concurrent callers is
// the conditional updates the Store methods make (DeactivateToken,
// RotateToken, AcceptOTPStep, UseActionToken), as in fosite's token
// requests. Under SERIALIZABLE, PostgreSQL aborts such transactions of unrelated grants when
// their index reads and inserts touch the same pages; they then fail although
// nothing conflicted. Backends without isolation levels ignore it.
func ReadCommitted(ctx context.Context) context.Context {
	return context.WithValue(ctx, readCommittedKey{}, true)
}

// IsReadCommitted reports whether ctx was made by ReadCommitted.
func IsReadCommitted(ctx context.Context) bool {
	v, _ := ctx.Value(readCommittedKey{}).(bool)
	return v
}

package postgres

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/authz/authz/internal/store"
)

// SQLSTATE codes the store translates into its sentinel errors.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeSerialization       = "40001"
	codeDeadlock            = "40P01"
	codeTooManyConnections  = "53300"
	codeAdminShutdown       = "57P01"
	codeCrashShutdown       = "57P02"
	codeCannotConnectNow    = "57P03"
	// Text PostgreSQL cannot hold: a NUL byte or invalid UTF-8.
	codeCharacterNotInRepertoire = "22021"
	codeUntranslatableCharacter  = "22P05"
)

// wrapf prefixes err with the operation and maps it to the store's sentinels so
// callers can test with errors.Is while logs keep the details.
func wrapf(err error, format string, args ...any) error {
	return fmt.Errorf("postgres: %s: %w", fmt.Sprintf(format, args...), classify(err))
}

// classify maps a pgx error to store.ErrNotFound, store.ErrConflict,
// store.ErrRetry or store.ErrUnavailable where one applies, keeping the
// original in the chain.
func classify(err error) error {
	if err == nil || alreadyClassified(err) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return classifyPg(pgErr, err)
	}
	if connectionLost(err) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

func alreadyClassified(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) ||
		errors.Is(err, store.ErrRetry) || errors.Is(err, store.ErrUnavailable)
}

func classifyPg(pgErr *pgconn.PgError, err error) error {
	switch {
	case pgErr.Code == codeUniqueViolation:
		return fmt.Errorf("%w: %s violates %s", store.ErrConflict, pgErr.TableName, pgErr.ConstraintName)
	case lostToConcurrent(pgErr):
		// Contention, not a bug and not a statement about the data: the
		// transaction is rolled back and may succeed when run again.
		return fmt.Errorf("%w: %w", store.ErrRetry, err)
	case pgErr.Code == codeCharacterNotInRepertoire, pgErr.Code == codeUntranslatableCharacter:
		// No row can hold such a key, so none has it: an ID from a hostile
		// URL names nothing, as it does on SQLite.
		return fmt.Errorf("%w: %s", store.ErrNotFound, pgErr.Message)
	case pgErr.Code == codeForeignKeyViolation:
		// The row refers to one that does not exist (or was just deleted).
		return fmt.Errorf("%w: %s", store.ErrNotFound, pgErr.Detail)
	case strings.HasPrefix(pgErr.Code, "08"), pgErr.Code == codeTooManyConnections,
		pgErr.Code == codeAdminShutdown, pgErr.Code == codeCrashShutdown,
		pgErr.Code == codeCannotConnectNow:
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// lostToConcurrent reports the errors with which PostgreSQL aborts a
// transaction because of a concurrent one: a serialization failure or a
// deadlock. Only these say "run it again"; a unique violation under
// contention is still a taken key.
func lostToConcurrent(pgErr *pgconn.PgError) bool {
	return pgErr.Code == codeSerialization || pgErr.Code == codeDeadlock
}

// retryable marks err with store.ErrRetry when PostgreSQL aborted the
// statement or transaction for a concurrent one, and leaves every other error
// as it is (pgx.ErrNoRows in particular), for store.Retry's loop.
func retryable(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && lostToConcurrent(pgErr) {
		return fmt.Errorf("%w: %w", store.ErrRetry, err)
	}
	return err
}

// connectionLost reports errors that mean the server could not be reached or
// went away, as opposed to errors in the statement. A closed pool counts too;
// pgxpool does not re-export puddle's ErrClosedPool, hence the text match.
func connectionLost(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		strings.Contains(err.Error(), "closed pool")
}

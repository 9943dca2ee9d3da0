package store

import (
	"context"
	"errors"
	"time"
)

// loginStateReader is the part of Store that ReadLoginState needs.
type loginStateReader interface {
	GetLoginTransaction(ctx context.Context, id string, now time.Time) (*LoginTransaction, error)
	GetUser(ctx context.Context, id string) (*User, error)
	GetOTPCredential(ctx context.Context, userID string) (*OTPCredential, error)
	ListWebAuthnCredentials(ctx context.Context, userID string) ([]*WebAuthnCredential, error)
	GetThrottle(ctx context.Context, key string) (*Throttle, error)
}

// ReadLoginState is GetLoginState as one read after another, for a backend
// to run inside a snapshot: a transaction, or SQLite's read transaction.
func ReadLoginState(ctx context.Context, s loginStateReader, id, throttleKey string, now time.Time) (*LoginState, error) {
	lt, err := s.GetLoginTransaction(ctx, id, now)
	if err != nil {
		return nil, err
	}
	ls := &LoginState{Transaction: lt}
	if throttleKey != "" {
		if ls.Throttle, err = s.GetThrottle(ctx, throttleKey); err != nil {
			return nil, err
		}
	}
	if lt.UserID == "" {
		return ls, nil
	}
	switch ls.User, err = s.GetUser(ctx, lt.UserID); {
	case errors.Is(err, ErrNotFound):
		ls.User = nil
		return ls, nil
	case err != nil:
		return nil, err
	}
	switch ls.OTP, err = s.GetOTPCredential(ctx, lt.UserID); {
	case errors.Is(err, ErrNotFound):
		ls.OTP = nil
	case err != nil:
		return nil, err
	}
	if ls.SecurityKeys, err = s.ListWebAuthnCredentials(ctx, lt.UserID); err != nil {
		return nil, err
	}
	return ls, nil
}

package mfa

import (
	"errors"
	"testing"
	"time"
)

func TestBackoffLockFor(t *testing.T) {
	b := DefaultBackoff
	want := map[int]time.Duration{
		0: 0, 1: 0, 5: 0,
		6: 30 * time.Second, 7: time.Minute, 8: 2 * time.Minute, 9: 4 * time.Minute,
		10: 8 * time.Minute, 11: 15 * time.Minute, 12: 15 * time.Minute, 1 << 30: 15 * time.Minute,
	}
	for failures, d := range want {
		if got := b.LockFor(failures); got != d {
			t.Errorf("LockFor(%d) = %v, want %v", failures, got, d)
		}
	}
}

func TestBackoffEdgeCases(t *testing.T) {
	if d := (Backoff{}).LockFor(100); d != 0 {
		t.Errorf("zero Backoff locks for %v", d)
	}
	if d := (Backoff{Base: time.Minute}).LockFor(3); d != time.Minute {
		t.Errorf("Max below Base: LockFor = %v, want Base", d)
	}
	huge := Backoff{Base: time.Hour, Max: 1<<63 - 1}
	if d := huge.LockFor(1000); d <= 0 {
		t.Errorf("doubling overflowed to %v", d)
	}
}

func TestLockedErrorMatches(t *testing.T) {
	until := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var err error = &LockedError{Until: until}
	if !errors.Is(err, ErrLocked) {
		t.Error("LockedError does not match ErrLocked")
	}
	var le *LockedError
	if !errors.As(err, &le) || !le.Until.Equal(until) {
		t.Error("errors.As lost Until")
	}
	if errors.Is(err, ErrInvalidCode) {
		t.Error("LockedError matches ErrInvalidCode")
	}
}

package notify

import (
	"testing"
	"time"
)

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		12 * time.Hour: "12 hours", time.Hour: "1 hour", 30 * time.Minute: "30 minutes",
		48 * time.Hour: "2 days", 90 * time.Minute: "1 hour 30 minutes", 25 * time.Hour: "1 day 1 hour", 0: "0 minutes",
	} {
		if got := HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

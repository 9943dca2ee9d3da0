package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PoolStats is a snapshot of one database connection pool, in terms both
// pgxpool and database/sql can fill.
type PoolStats struct {
	Pool  string // label value: "postgres", or "write" and "read" for SQLite
	InUse int
	Idle  int
	Max   int
	// Waits counts acquisitions that found no idle connection and waited.
	Waits int64
	// WaitTime is the total time spent in those waits.
	WaitTime time.Duration
}

var (
	poolConns = prometheus.NewDesc("authz_store_pool_connections",
		"Connections of a store pool by state (in_use, idle) and the pool's maximum (max).",
		[]string{"pool", "state"}, nil)
	poolWaits = prometheus.NewDesc("authz_store_pool_waits_total",
		"Connection acquisitions that had to wait because the pool had no idle connection.",
		[]string{"pool"}, nil)
	poolWaitSeconds = prometheus.NewDesc("authz_store_pool_wait_seconds_total",
		"Total time spent waiting for a connection.",
		[]string{"pool"}, nil)
)

// poolCollector reads pool statistics at scrape time, so they cost nothing
// between scrapes.
type poolCollector struct {
	stats func() []PoolStats
}

// NewPoolCollector returns a collector that calls stats at every scrape.
func NewPoolCollector(stats func() []PoolStats) prometheus.Collector {
	return poolCollector{stats: stats}
}

// Describe implements prometheus.Collector.
func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolConns
	ch <- poolWaits
	ch <- poolWaitSeconds
}

// Collect implements prometheus.Collector.
func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.stats() {
		ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(s.InUse), s.Pool, "in_use")
		ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(s.Idle), s.Pool, "idle")
		ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(s.Max), s.Pool, "max")
		ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(s.Waits), s.Pool)
		ch <- prometheus.MustNewConstMetric(poolWaitSeconds, prometheus.CounterValue, s.WaitTime.Seconds(), s.Pool)
	}
}

package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Serve listens on the configured address and serves until ctx is cancelled,
// then lets in-flight requests finish (up to 20 s) before returning. ready, if
// not nil, receives the bound address once the listener is open.
func (a *App) Serve(ctx context.Context, ready func(addr net.Addr)) error {
	var tlsConfig *tls.Config
	if a.Config.TLS() {
		cert, err := tls.LoadX509KeyPair(a.Config.TLSCertFile, a.Config.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", a.Config.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.Config.Listen, err)
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         tlsConfig,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelDebug),
	}
	metrics, err := a.metricsServer()
	if err != nil {
		ln.Close()
		return err
	}
	a.StartJanitor(a.Config.JanitorInterval)
	a.StartBackchannel()
	errc := make(chan error, 2)
	go func() {
		if a.Config.TLS() {
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	scheme := "http"
	if a.Config.TLS() {
		scheme = "https"
	}
	a.Log.Info("authz is serving", "addr", ln.Addr().String(), "scheme", scheme, "issuer", a.Config.Issuer.String())
	if metrics != nil {
		go func() {
			if err := metrics.serve(); err != nil {
				errc <- err
			}
		}()
		a.Log.Info("metrics are served apart", "addr", metrics.ln.Addr().String())
	}
	if ready != nil {
		ready(ln.Addr())
	}
	select {
	case err := <-errc:
		srv.Close()
		metrics.close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.Log.Info("shutting down: letting in-flight requests finish")
	// Scrapes and health checks go on while requests drain.
	defer metrics.close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// apartServer is the separate metrics listener; a nil one serves nothing.
type apartServer struct {
	srv *http.Server
	ln  net.Listener
}

// metricsServer opens the listener of metrics.listen, nil when it is unset.
func (a *App) metricsServer() (*apartServer, error) {
	if a.Config.MetricsListen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", a.Config.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (metrics.listen): %w", a.Config.MetricsListen, err)
	}
	srv := &http.Server{
		Handler:           a.MetricsHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelDebug),
	}
	return &apartServer{srv: srv, ln: ln}, nil
}

func (m *apartServer) serve() error {
	if err := m.srv.Serve(m.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics listener: %w", err)
	}
	return nil
}

// close stops it at once: a scrape cut short is simply retried.
func (m *apartServer) close() {
	if m != nil {
		_ = m.srv.Close()
	}
}

// Package pgcluster runs a throwaway PostgreSQL server: initdb into a
// temporary directory, pg_ctl to start, stop and restart it on a free
// loopback port. The fault tests restart it under load and the benchmarks use
// it when no database is configured.
//
// PostgreSQL refuses to run as root, so when the caller is root the server's
// commands run as the "postgres" user, which owns the directory.
package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotInstalled means no initdb was found.
var ErrNotInstalled = errors.New("pgcluster: PostgreSQL server binaries (initdb, pg_ctl) not found; install Debian's postgresql package")

// Cluster is one running throwaway server.
type Cluster struct {
	bin  string // directory of initdb and pg_ctl
	dir  string // owns data/, the socket and the log
	Port int
	cred *syscall.Credential // nil: run as the caller
}

// FindBin returns the directory holding initdb and pg_ctl: the newest
// /usr/lib/postgresql/*/bin, or the PATH's.
func FindBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if isExecutable(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Start creates a cluster in a new temporary directory and starts it.
// Close stops it and removes the directory.
func Start(ctx context.Context) (*Cluster, error) {
	bin, err := FindBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "authz-pgcluster-")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	c := &Cluster{bin: bin, dir: dir}
	if err := c.init(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

func (c *Cluster) init(ctx context.Context) error {
	if os.Geteuid() == 0 {
		cred, err := postgresUser()
		if err != nil {
			return err
		}
		if err := os.Chown(c.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("pgcluster: hand %s to the postgres user: %w", c.dir, err)
		}
		c.cred = cred
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	c.Port = port
	// trust on loopback only: the server lives as long as one test run.
	return c.run(ctx, "initdb", "-D", c.dataDir(), "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
}

// postgresUser is who runs the server when the caller is root.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root needs a postgres user to run the server as: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgcluster: postgres user has uid %q gid %q", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

// LogFile is the server's log, for a failing test to show.
func (c *Cluster) LogFile() string { return filepath.Join(c.dir, "server.log") }

// URL returns the URL of database on the cluster, as the postgres superuser.
func (c *Cluster) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, database)
}

// RequirePassword sets the postgres superuser's password and makes TCP
// connections prove it (scram-sha-256), as a production server would; the
// cluster's own socket stays trusted. URL then needs the password added. It
// returns once a connection without the password is refused.
func (c *Cluster) RequirePassword(ctx context.Context, password string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	defer conn.Close(ctx)
	// ALTER ROLE takes no parameters: the server quotes the literal.
	var lit string
	if err := conn.QueryRow(ctx, "SELECT quote_literal($1::text)", password).Scan(&lit); err != nil {
		return fmt.Errorf("pgcluster: quote password: %w", err)
	}
	if _, err := conn.Exec(ctx, "SET password_encryption = 'scram-sha-256'; ALTER ROLE postgres PASSWORD "+lit); err != nil {
		return fmt.Errorf("pgcluster: set password: %w", err)
	}
	hba := "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
	if err := os.WriteFile(filepath.Join(c.dataDir(), "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return fmt.Errorf("pgcluster: write pg_hba.conf: %w", err)
	}
	if c.cred != nil {
		if err := os.Chown(filepath.Join(c.dataDir(), "pg_hba.conf"), int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
	}
	if err := c.run(ctx, "pg_ctl", "reload", "-D", c.dataDir()); err != nil {
		return err
	}
	// A reload is a signal: the server applies it a moment later.
	for {
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("pgcluster: password not yet required: %w", ctx.Err())
			}
			return nil
		}
		conn.Close(ctx)
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgcluster: password not yet required: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start(ctx context.Context) error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s", c.Port, c.dir)
	return c.run(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", c.dataDir(), "-l", c.LogFile(), "-o", opts)
}

// Stop stops the server. mode is pg_ctl's: "fast" shuts down cleanly,
// "immediate" kills it as a crash would (the next start replays the WAL).
func (c *Cluster) Stop(ctx context.Context, mode string) error {
	return c.run(ctx, "pg_ctl", "stop", "-w", "-t", "60", "-D", c.dataDir(), "-m", mode)
}

// Close stops the server, if it runs, and removes its directory.
func (c *Cluster) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = c.Stop(ctx, "immediate") // fails when it is stopped already
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("pgcluster: remove %s: %w", c.dir, err)
	}
	return nil
}

// run runs one of the server's programs as the cluster's owner.
func (c *Cluster) run(ctx context.Context, prog string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, prog), args...)
	cmd.Dir = c.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgcluster: %s %s: %w\n%s", prog, args[0], err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

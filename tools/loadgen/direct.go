package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// poster posts a form to the target as a client: the shared net/http client
// (*env) or a worker's own connection (*directConn).
type poster interface {
	postForm(ctx context.Context, path string, form url.Values, c Client) (int, []byte, error)
}

// directConn is one worker's keep-alive HTTP/1.1 connection, for the token
// scenarios' one-request operations. net/http's client hands each request to
// two goroutines of its own and back; on the two cores the tool shares with
// the server, that hand-off cost about a quarter of the tool's CPU per
// request. Here the worker writes the request and reads the answer itself.
type directConn struct {
	target  *url.URL
	timeout time.Duration
	conn    net.Conn
	r       *bufio.Reader
	buf     []byte
}

// direct makes a worker's connection; Run closes it after the run. Workers
// are set up one after another, so e.conns needs no lock.
func (e *env) direct() (*directConn, error) {
	u, err := url.Parse(e.target)
	if err != nil {
		return nil, err
	}
	d := &directConn{target: u, timeout: e.opts.Timeout}
	e.conns = append(e.conns, d)
	return d, nil
}

// postForm implements poster. A kept-alive connection the server closed in
// the meantime fails before any answer arrives: the request is then sent once
// more on a new connection.
func (d *directConn) postForm(ctx context.Context, path string, form url.Values, c Client) (int, []byte, error) {
	reused := d.conn != nil
	status, body, err := d.roundTrip(ctx, path, form, c)
	if err != nil && reused && ctx.Err() == nil && closedByPeer(err) {
		status, body, err = d.roundTrip(ctx, path, form, c)
	}
	return status, body, err
}

// closedByPeer reports whether err is the server having closed the
// connection: the request never reached it, so sending it again is safe. A
// timeout is not: the server may have acted on it (rotated a refresh token).
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func (d *directConn) roundTrip(ctx context.Context, path string, form url.Values, c Client) (int, []byte, error) {
	if d.conn == nil {
		if err := d.dial(ctx); err != nil {
			return 0, nil, err
		}
	}
	conn := d.conn
	_ = conn.SetDeadline(time.Now().Add(d.timeout))
	// The end of the run interrupts a request at once. (conn, not d.conn:
	// the callback runs on its own goroutine.)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	body := form.Encode()
	auth := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.ID) + ":" + url.QueryEscape(c.Secret)))
	b := append(d.buf[:0], "POST "...)
	b = append(b, d.target.Path...) // the issuer may have a path
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, d.target.Host...)
	b = append(b, "\r\nAuthorization: Basic "...)
	b = append(b, auth...)
	b = append(b, "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	d.buf = b
	if _, err := d.conn.Write(b); err != nil {
		d.close()
		return 0, nil, fmt.Errorf("POST %s: %w", path, err)
	}
	resp, err := http.ReadResponse(d.r, nil)
	if err != nil {
		d.close()
		return 0, nil, fmt.Errorf("POST %s: %w", path, err)
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if err != nil {
		d.close()
		return 0, nil, fmt.Errorf("POST %s: read answer: %w", path, err)
	}
	if resp.Close {
		d.close()
	}
	return resp.StatusCode, answer, nil
}

func (d *directConn) dial(ctx context.Context) error {
	host := d.target.Host
	if d.target.Port() == "" {
		port := "80"
		if d.target.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(d.target.Hostname(), port)
	}
	var dialer net.Dialer
	dialer.Timeout = 5 * time.Second
	conn, err := dialer.DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	if d.target.Scheme == "https" {
		tc := tls.Client(conn, &tls.Config{ServerName: d.target.Hostname()})
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return err
		}
		conn = tc
	}
	d.conn, d.r = conn, bufio.NewReader(conn)
	return nil
}

func (d *directConn) close() {
	if d.conn != nil {
		d.conn.Close()
		d.conn, d.r = nil, nil
	}
}

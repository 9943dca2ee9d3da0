package main

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// processesCPU is the CPU time so far, user and system, of every process
// whose command name (/proc/PID/comm) is name, by PID.
func processesCPU(name string) map[int]time.Duration {
	cpu := map[int]time.Duration{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(dir, "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != name {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join(dir, "stat")); err == nil {
			cpu[pid] = parseCPUTime(string(stat))
		}
	}
	return cpu
}

// cpuSince is the CPU time the processes of now used since before: a
// process started since counts whole (also under a reused PID: its time
// is then below the old process's), one that ended since is lost (a
// connection pool keeps its database connections over a run).
func cpuSince(before, now map[int]time.Duration) time.Duration {
	var used time.Duration
	for pid, t := range now {
		if b := before[pid]; b <= t {
			t -= b
		}
		used += t
	}
	return used
}

// ownCPU is the CPU time this process has used so far.
func ownCPU() time.Duration {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	return parseCPUTime(string(stat))
}

// localDatabase reports whether the PostgreSQL server of dbURL runs on this
// machine, where its processes' CPU can be read: a loopback host or a Unix
// socket.
func localDatabase(dbURL string) bool {
	u, err := url.Parse(dbURL)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if h := u.Query().Get("host"); h != "" {
		host = h
	}
	if host == "" || strings.HasPrefix(host, "/") || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

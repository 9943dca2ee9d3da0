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

// procCPU is a process's CPU time so far, user and system: its own, and its
// children's that it has waited for (a PostgreSQL server's backends and
// autovacuum workers, which end with their connection or table, are children
// of its postmaster); and its parent's PID.
type procCPU struct {
	own, children time.Duration
	parent        int
}

// processesCPU is the CPU time so far of every process whose command name
// (/proc/PID/comm) is name, by PID.
func processesCPU(name string) map[int]procCPU {
	cpu := map[int]procCPU{}
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
			cpu[pid] = parseProcCPU(string(stat))
		}
	}
	return cpu
}

// cpuSince is the CPU time the processes of now used since before. A
// process started since counts whole (also under a reused PID: its time is
// then below the old process's). One that ended since counts through its
// parent's children's time, less what it had used by before, when the
// parent is one of the processes; a process ending whose parent is not is
// lost, and takes no time off the others. The readings are not atomic: a
// process that ends between its parent's reading and its own is counted
// short, the other way round long.
func cpuSince(before, now map[int]procCPU) time.Duration {
	endedBy := map[int]time.Duration{} // by parent: what ended children had used by before
	for pid, b := range before {
		if _, ok := now[pid]; !ok {
			endedBy[b.parent] += b.own + b.children
		}
	}
	var used time.Duration
	for pid, t := range now {
		b, ok := before[pid]
		if !ok || t.own < b.own {
			used += t.own + t.children // new since before
			continue
		}
		used += t.own - b.own + max(t.children-b.children-endedBy[pid], 0)
	}
	return used
}

// parseProcCPU reads a process's CPU times from its /proc/PID/stat.
func parseProcCPU(stat string) procCPU {
	f := statFields(stat)
	if len(f) < 15 {
		return procCPU{}
	}
	parent, _ := strconv.Atoi(f[1])
	return procCPU{own: clockTicks(f[11], f[12]), children: clockTicks(f[13], f[14]), parent: parent}
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

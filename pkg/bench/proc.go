package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Proc reads a process's CPU time and peak memory from /proc (Linux).
type Proc struct {
	PID  int // 0: this process
	tick time.Duration
}

// NewProc returns a reader for pid (0: this process).
func NewProc(pid int) Proc { return Proc{PID: pid, tick: clockTick()} }

func (p Proc) path(name string) string {
	if p.PID == 0 {
		return "/proc/self/" + name
	}
	return "/proc/" + strconv.Itoa(p.PID) + "/" + name
}

// CPU returns the user plus system CPU time the process has used.
func (p Proc) CPU() (time.Duration, error) {
	data, err := os.ReadFile(p.path("stat"))
	if err != nil {
		return 0, fmt.Errorf("reading CPU time: %w", err)
	}
	ticks, err := parseStatCPU(data)
	if err != nil {
		return 0, err
	}
	return time.Duration(ticks) * p.tick, nil
}

// PeakRSS returns the process's peak resident set size (VmHWM) in bytes.
func (p Proc) PeakRSS() (int64, error) {
	data, err := os.ReadFile(p.path("status"))
	if err != nil {
		return 0, fmt.Errorf("reading peak RSS: %w", err)
	}
	return parseStatusKB(data, "VmHWM")
}

// ResetPeakRSS starts the peak RSS afresh from the current RSS.
func (p Proc) ResetPeakRSS() error {
	return os.WriteFile(p.path("clear_refs"), []byte("5"), 0)
}

// parseStatCPU returns utime + stime in clock ticks from /proc/<pid>/stat.
// The command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStatCPU(data []byte) (int64, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat: no ')'")
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("malformed /proc stat: too few fields")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("malformed /proc stat: %w", err)
	}
	return u + s, nil
}

// parseStatusKB returns the value of a "Key:   123 kB" line of
// /proc/<pid>/status in bytes.
func parseStatusKB(data []byte, key string) (int64, error) {
	for line := range strings.SplitSeq(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != key {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed %s in /proc status: %w", key, err)
		}
		return n << 10, nil
	}
	return 0, fmt.Errorf("no %s in /proc status", key)
}

// clockTick is the length of one clock tick (USER_HZ), read from the
// auxiliary vector (AT_CLKTCK); 10ms when it cannot be read.
func clockTick() time.Duration {
	const atClkTck = 17
	data, err := os.ReadFile("/proc/self/auxv")
	if err == nil {
		if hz := auxValue(data, atClkTck); hz > 0 {
			return time.Second / time.Duration(hz)
		}
	}
	return 10 * time.Millisecond
}

// auxValue finds key in a 64-bit auxiliary vector.
func auxValue(data []byte, key uint64) uint64 {
	for i := 0; i+16 <= len(data); i += 16 {
		k := binary.NativeEndian.Uint64(data[i:])
		if k == 0 {
			break
		}
		if k == key {
			return binary.NativeEndian.Uint64(data[i+8:])
		}
	}
	return 0
}

// readPIDFile returns the pid in a pid file, checking that it is running.
func readPIDFile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s holds no pid", path)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid) + "/stat"); err != nil {
		return 0, fmt.Errorf("process %d of %s is not running", pid, path)
	}
	return pid, nil
}

// loadAverage returns the first field of /proc/loadavg, or "" when unknown.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

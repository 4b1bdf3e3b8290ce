package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStartServerMallocConf: deploy/clickhouse/lib.sh starts clickhouse-server
// with jemalloc's oversize_threshold:0 and one-minute decays unless SETTLEMON_CH_MALLOC_CONF says
// otherwise (empty: jemalloc's defaults). A stand-in clickhouse-server on
// PATH records the MALLOC_CONF it was started with.
func TestStartServerMallocConf(t *testing.T) {
	lib := filepath.Join(repoRoot(t), "deploy", "clickhouse", "lib.sh")
	for _, tt := range []struct {
		name string
		env  []string // SETTLEMON_CH_MALLOC_CONF, when set
		want string
	}{
		{"default", nil, "oversize_threshold:0,dirty_decay_ms:60000,muzzy_decay_ms:60000"},
		{"override", []string{"SETTLEMON_CH_MALLOC_CONF=dirty_decay_ms:1000"}, "dirty_decay_ms:1000"},
		{"empty", []string{"SETTLEMON_CH_MALLOC_CONF="}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			seen := filepath.Join(dir, "malloc_conf")
			fake := "#!/bin/sh\nprintf '%s' \"${MALLOC_CONF-unset}\" > " + seen + ".tmp && mv " + seen + ".tmp " + seen + "\n"
			if err := os.WriteFile(filepath.Join(dir, "clickhouse-server"), []byte(fake), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", "-c", `. "$1" && start_server "$2/config.xml" "$2/server.pid" "$2/stdout.log"`, "bash", lib, dir)
			cmd.Env = append(filteredEnv("SETTLEMON_CH_MALLOC_CONF", "MALLOC_CONF", "PATH"), "PATH="+dir+":"+os.Getenv("PATH"))
			cmd.Env = append(cmd.Env, tt.env...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("start_server: %v\n%s", err, out)
			}
			var got []byte
			for deadline := time.Now().Add(30 * time.Second); ; {
				var err error
				if got, err = os.ReadFile(seen); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the stand-in server never ran")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if string(got) != tt.want {
				t.Errorf("clickhouse-server started with MALLOC_CONF=%q, want %q", got, tt.want)
			}
		})
	}
}

// filteredEnv is this process's environment without the variables named.
func filteredEnv(drop ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, d := range drop {
			keep = keep && name != d
		}
		if keep {
			env = append(env, kv)
		}
	}
	return env
}

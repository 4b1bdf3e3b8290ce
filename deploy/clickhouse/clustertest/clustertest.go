// Package clustertest gives integration tests the project's ClickHouse cluster:
// deploy/clickhouse/cluster.sh started into the test's temporary folder
// (ZooKeeper and 2 shards × 2 replicas on free loopback ports), with its
// components stopped and started one by one, and everything stopped when the
// test ends. Without ZooKeeper or ClickHouse installed the test is skipped, or
// fails when CI=true (deploy/local/test.sh installs both). It opens no
// database connection itself.
package clustertest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ZooKeeper names the ZooKeeper component for Stop and Start.
const ZooKeeper = "zookeeper"

// Node is one clickhouse-server of the cluster.
type Node struct {
	Name     string // s1r1, s1r2, s2r1, s2r2: the {replica} macro
	Shard    int    // the {shard} macro: 1 or 2
	Addr     string // native protocol host:port
	HTTPAddr string
}

// Cluster is a running cluster started by Start.
type Cluster struct {
	Name          string // the cluster's name in remote_servers
	Nodes         []Node
	ZooKeeperAddr string
	Dir           string // the script's run folder

	script string
}

// Start runs cluster.sh start into a temporary run folder and registers its
// stop (and, when the test failed, the tail of every log) with tb.Cleanup.
func Start(tb testing.TB) *Cluster {
	tb.Helper()
	script := scriptPath(tb)
	if out, err := exec.Command("bash", script, "prereqs").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("the ClickHouse cluster needs Debian's zookeeper and clickhouse-server "+
			"(deploy/local/test.sh installs them; deploy/clickhouse/cluster.sh start too): %s", bytes.TrimSpace(out))
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	c := &Cluster{Dir: tb.TempDir(), script: script}
	tb.Cleanup(func() {
		if tb.Failed() {
			c.logTails(tb)
		}
		if out, err := c.run("stop"); err != nil {
			tb.Errorf("stopping the cluster: %v\n%s", err, out)
		}
	})
	if out, err := c.run("start"); err != nil {
		tb.Fatalf("starting the cluster: %v\n%s", err, out)
	}
	if err := c.readEnv(); err != nil {
		tb.Fatal(err)
	}
	return c
}

// Stop stops the named components (node names or ZooKeeper) and waits until
// they have exited.
func (c *Cluster) Stop(tb testing.TB, components ...string) {
	tb.Helper()
	if out, err := c.run(append([]string{"stop"}, components...)...); err != nil {
		tb.Fatalf("stopping %v: %v\n%s", components, err, out)
	}
}

// Start starts the named components again, on their ports, and waits until
// they answer.
func (c *Cluster) Start(tb testing.TB, components ...string) {
	tb.Helper()
	if out, err := c.run(append([]string{"start"}, components...)...); err != nil {
		tb.Fatalf("starting %v: %v\n%s", components, err, out)
	}
}

// Node returns the node named name.
func (c *Cluster) Node(tb testing.TB, name string) Node {
	tb.Helper()
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	tb.Fatalf("no node %q in the cluster", name)
	return Node{}
}

// Shards returns the nodes by shard number.
func (c *Cluster) Shards() map[int][]Node {
	m := map[int][]Node{}
	for _, n := range c.Nodes {
		m[n.Shard] = append(m[n.Shard], n)
	}
	return m
}

func (c *Cluster) run(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{c.script}, args...)...)
	cmd.Env = append(os.Environ(), "RUN_DIR="+c.Dir)
	return cmd.CombinedOutput()
}

// ReadEnv reads the variables cluster.sh wrote to the env file of the run
// folder dir (SETTLEMON_CLUSTER_NAME, _NODES, _ADDRS, …); it returns the
// file's path with them.
func ReadEnv(dir string) (map[string]string, string, error) {
	path := filepath.Join(dir, "cluster", "env")
	f, err := os.Open(path)
	if err != nil {
		return nil, path, fmt.Errorf("reading the cluster's env file: %w", err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, path, fmt.Errorf("reading %s: %w", path, err)
	}
	return env, path, nil
}

// readEnv reads the addresses from the script's env file.
func (c *Cluster) readEnv() error {
	env, path, err := ReadEnv(c.Dir)
	if err != nil {
		return err
	}
	names := strings.Split(env["SETTLEMON_CLUSTER_NODES"], ",")
	addrs := strings.Split(env["SETTLEMON_CLUSTER_ADDRS"], ",")
	httpAddrs := strings.Split(env["SETTLEMON_CLUSTER_HTTP_ADDRS"], ",")
	if len(names) != 4 || len(addrs) != len(names) || len(httpAddrs) != len(names) {
		return fmt.Errorf("%s: want 4 nodes with native and HTTP addresses, got nodes %q, addrs %q, http %q",
			path, names, addrs, httpAddrs)
	}
	c.Name = env["SETTLEMON_CLUSTER_NAME"]
	c.ZooKeeperAddr = env["SETTLEMON_ZOOKEEPER_ADDR"]
	for i, name := range names {
		var shard int
		if _, err := fmt.Sscanf(name, "s%dr", &shard); err != nil {
			return fmt.Errorf("%s: node name %q has no shard number: %w", path, name, err)
		}
		c.Nodes = append(c.Nodes, Node{Name: name, Shard: shard, Addr: addrs[i], HTTPAddr: httpAddrs[i]})
	}
	if c.Name == "" || c.ZooKeeperAddr == "" {
		return fmt.Errorf("%s: no cluster name or ZooKeeper address", path)
	}
	return nil
}

// logTails logs the last lines of each component's error log.
func (c *Cluster) logTails(tb testing.TB) {
	logs, _ := filepath.Glob(filepath.Join(c.Dir, "cluster", "*", "log", "*.err.log"))
	logs = append(logs, filepath.Join(c.Dir, "cluster", ZooKeeper, "log", "zookeeper.log"))
	for _, p := range logs {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 20 {
			lines = lines[len(lines)-20:]
		}
		tb.Logf("%s (last lines):\n%s", p, strings.Join(lines, "\n"))
	}
}

// scriptPath finds deploy/clickhouse/cluster.sh at the module root above the
// test's working directory.
func scriptPath(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("clustertest: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "deploy", "clickhouse", "cluster.sh")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("clustertest: no go.mod above the working directory")
		}
		dir = parent
	}
}

package service

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"settlemon/pkg/store"
)

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{
		"kafka-brokers":        "SETTLEMON_KAFKA_BROKERS",
		"clickhouse-addr":      "SETTLEMON_CLICKHOUSE_ADDR",
		"t1-payout-cutoff":     "SETTLEMON_T1_PAYOUT_CUTOFF",
		"source":               "SETTLEMON_SOURCE",
		"log-format":           "SETTLEMON_LOG_FORMAT",
		"broker-data-dir":      "SETTLEMON_BROKER_DATA_DIR",
		"kafka-sasl-mechanism": "SETTLEMON_KAFKA_SASL_MECHANISM",
	} {
		if got := EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantAddr string
		wantWait time.Duration
		wantList string
		wantErr  string
	}{
		{name: "defaults", wantAddr: "127.0.0.1:19000", wantWait: time.Second, wantList: "a,b"},
		{name: "environment over default", env: map[string]string{"SETTLEMON_ADDR": "ch:9000", "SETTLEMON_WAIT": "3s", "SETTLEMON_LIST": "x, y"},
			wantAddr: "ch:9000", wantWait: 3 * time.Second, wantList: "x,y"},
		{name: "flag over environment", args: []string{"--addr", "flag:1"}, env: map[string]string{"SETTLEMON_ADDR": "ch:9000"},
			wantAddr: "flag:1", wantWait: time.Second, wantList: "a,b"},
		{name: "bad environment value is an error naming the variable", env: map[string]string{"SETTLEMON_WAIT": "soon"},
			wantErr: "SETTLEMON_WAIT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			f := NewFlags("x", "x — test")
			addr := f.String("addr", "127.0.0.1:19000", "address")
			wait := f.Duration("wait", time.Second, "wait")
			var list []string
			f.ListVar(&list, "list", []string{"a", "b"}, "list")
			err := f.Parse(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *addr != tc.wantAddr || *wait != tc.wantWait || strings.Join(list, ",") != tc.wantList {
				t.Errorf("got addr=%s wait=%s list=%v", *addr, *wait, list)
			}
		})
	}
}

func TestSecretFromFile(t *testing.T) {
	path := t.TempDir() + "/pw"
	if err := writeFile(path, "s3cret\n"); err != nil {
		t.Fatal(err)
	}
	f := NewFlags("x", "x")
	var pw string
	f.SecretVar(&pw, "clickhouse-password", "password")
	if err := f.Parse([]string{"--clickhouse-password-file", path}); err != nil {
		t.Fatal(err)
	}
	if pw != "s3cret" {
		t.Errorf("password = %q, want the file's content without the newline", pw)
	}
}

func TestUsageListsEnvironment(t *testing.T) {
	f := NewFlags("x", "x — does things")
	KafkaFlags(f)
	StoreFlags(f)
	var b bytes.Buffer
	f.PrintUsage(&b)
	for _, want := range []string{"x — does things", "--kafka-brokers  [SETTLEMON_KAFKA_BROKERS]", "--clickhouse-addr  [SETTLEMON_CLICKHOUSE_ADDR]"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, b.String())
		}
	}
	if vars := f.EnvVars(); len(vars) < 10 || vars[0] > vars[len(vars)-1] {
		t.Errorf("EnvVars = %v, want them all, sorted", vars)
	}
}

func TestReaderStoreFlags(t *testing.T) {
	tests := []struct {
		name               string
		args               []string
		env                map[string]string
		wantUser, wantPass string
	}{
		{name: "defaults: the read-only analyst with its local password", wantUser: "analyst", wantPass: "analyst"},
		{name: "the analyst's real password from the environment", env: map[string]string{"SETTLEMON_CLICKHOUSE_PASSWORD": "pw"},
			wantUser: "analyst", wantPass: "pw"},
		{name: "another user gets no default password", args: []string{"--clickhouse-user", "reader"}, wantUser: "reader", wantPass: ""},
		{name: "user and password from the environment", env: map[string]string{"SETTLEMON_CLICKHOUSE_USER": "ro", "SETTLEMON_CLICKHOUSE_PASSWORD": "x"},
			wantUser: "ro", wantPass: "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"SETTLEMON_CLICKHOUSE_USER", "SETTLEMON_CLICKHOUSE_PASSWORD"} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			f := NewFlags("x", "x")
			c := ReaderStoreFlags(f)
			if err := f.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if c.User != tc.wantUser || c.Password != tc.wantPass {
				t.Errorf("user %q password %q, want %q %q", c.User, c.Password, tc.wantUser, tc.wantPass)
			}
		})
	}
	f := NewFlags("x", "x")
	if c := StoreFlags(f); f.Parse(nil) != nil || c.User != "default" {
		t.Errorf("StoreFlags: user %q, want the writer's default", c.User)
	}
}

func TestStoreClusterFlags(t *testing.T) {
	tests := []struct {
		name         string
		env          map[string]string
		args         []string
		cluster, ddl string
	}{
		{"single server by default", nil, nil, "", ""},
		{"flag", nil, []string{"--clickhouse-cluster", "settlemon"}, "settlemon", ""},
		{"environment", map[string]string{"SETTLEMON_CLICKHOUSE_CLUSTER": "settlemon", "SETTLEMON_CLICKHOUSE_DDL_CLUSTER": "every_node"}, nil, "settlemon", "every_node"},
		{"flag over environment", map[string]string{"SETTLEMON_CLICKHOUSE_CLUSTER": "a"}, []string{"--clickhouse-cluster", "b"}, "b", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"SETTLEMON_CLICKHOUSE_CLUSTER", "SETTLEMON_CLICKHOUSE_DDL_CLUSTER"} {
				t.Setenv(k, tc.env[k])
			}
			for _, flags := range []func(*Flags) *store.Config{StoreFlags, ReaderStoreFlags} {
				f := NewFlags("x", "x")
				c := flags(f)
				if err := f.Parse(tc.args); err != nil {
					t.Fatal(err)
				}
				if c.Cluster != tc.cluster || c.DDLCluster != tc.ddl {
					t.Errorf("cluster %q, DDL cluster %q; want %q, %q", c.Cluster, c.DDLCluster, tc.cluster, tc.ddl)
				}
			}
		})
	}
}

package chaos

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// fakeServer answers a toy version of the insert exchange: a line with the
// query → "HEADER\n"; a line with data → it records the data (the commit) and
// answers "OK\n". Other lines are echoed.
func fakeServer(tb testing.TB) (addr string, committed <-chan string) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	commits := make(chan string, 100)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				rd := bufio.NewReader(c)
				inInsert := false
				for {
					line, err := rd.ReadString('\n')
					if err != nil {
						return
					}
					switch {
					case strings.HasPrefix(strings.ToUpper(line), "INSERT INTO"):
						inInsert = true
						_, err = io.WriteString(c, "HEADER\n")
					case inInsert:
						inInsert = false
						commits <- strings.TrimSpace(line)
						_, err = io.WriteString(c, "OK\n")
					default:
						_, err = io.WriteString(c, "ECHO "+line)
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), commits
}

// insert runs one toy insert through conn and returns the final reply or
// the error reading it.
func insert(tb testing.TB, conn net.Conn, rd *bufio.Reader, data string) (string, error) {
	tb.Helper()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "insert into t (a, b)\n"); err != nil {
		return "", err
	}
	header, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	if header != "HEADER\n" {
		tb.Fatalf("header = %q", header)
	}
	if _, err := io.WriteString(conn, data+"\n"); err != nil {
		return "", err
	}
	return rd.ReadString('\n')
}

func TestProxyForwardsAndDropsInsertReplies(t *testing.T) {
	upstream, commits := fakeServer(t)
	tests := []struct {
		name     string
		rate     float64
		wantDrop bool
	}{
		{"rate 0 forwards the reply", 0, false},
		{"rate 1 drops the reply after the commit", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewProxy(ProxyConfig{Upstream: upstream, Seed: 1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := p.SetDropRate(tt.rate); err != nil {
				t.Fatal(err)
			}
			conn, err := net.Dial("tcp", p.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			rd := bufio.NewReader(conn)

			// A query that is no insert passes whatever the rate.
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(conn, "SELECT 1\n"); err != nil {
				t.Fatal(err)
			}
			if got, err := rd.ReadString('\n'); err != nil || got != "ECHO SELECT 1\n" {
				t.Fatalf("select through the proxy: %q, %v", got, err)
			}

			reply, err := insert(t, conn, rd, "row-"+tt.name)
			select {
			case c := <-commits:
				if c != "row-"+tt.name {
					t.Fatalf("server committed %q", c)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the server never received the insert's data")
			}
			if tt.wantDrop {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("client got %q, %v; want io.EOF after the commit", reply, err)
				}
			} else if err != nil || reply != "OK\n" {
				t.Fatalf("client got %q, %v; want the server's OK", reply, err)
			}
			st := p.Stats()
			wantDropped := uint64(0)
			if tt.wantDrop {
				wantDropped = 1
			}
			if st.Inserts != 1 || st.Dropped != wantDropped || st.Conns != 1 {
				t.Fatalf("stats %+v, want 1 insert, %d dropped, 1 connection", st, wantDropped)
			}
		})
	}
}

func TestProxyFindsQuerySplitAcrossReads(t *testing.T) {
	upstream, commits := fakeServer(t)
	p, err := NewProxy(ProxyConfig{Upstream: upstream}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_ = p.SetDropRate(1)
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	rd := bufio.NewReader(conn)
	for _, part := range []string{"INSE", "RT IN", "TO t\n"} {
		if _, err := io.WriteString(conn, part); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // separate reads at the proxy
	}
	if h, err := rd.ReadString('\n'); err != nil || h != "HEADER\n" {
		t.Fatalf("header %q, %v", h, err)
	}
	if _, err := io.WriteString(conn, "data\n"); err != nil {
		t.Fatal(err)
	}
	<-commits
	if got, err := rd.ReadString('\n'); !errors.Is(err, io.EOF) {
		t.Fatalf("got %q, %v; want the reply dropped", got, err)
	}
}

func TestProxyConfigValidate(t *testing.T) {
	tests := []struct {
		cfg     ProxyConfig
		wantErr bool
	}{
		{ProxyConfig{Upstream: "127.0.0.1:9000"}, false},
		{ProxyConfig{Upstream: "127.0.0.1:9000", Listen: "127.0.0.1:0"}, false},
		{ProxyConfig{Upstream: "127.0.0.1:9000", Listen: "0.0.0.0:9999"}, true},
		{ProxyConfig{Upstream: "127.0.0.1:9000", Listen: "10.1.2.3:9999"}, true},
		{ProxyConfig{}, true},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); (err != nil) != tt.wantErr {
			t.Errorf("%+v: Validate() = %v, want error %v", tt.cfg, err, tt.wantErr)
		}
	}
}

func TestProxyClosesClientWhenUpstreamIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	p, err := NewProxy(ProxyConfig{Upstream: down}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("read = %v, want io.EOF (the client sees the server down)", err)
	}
}

package chaos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
)

// ProxyConfig is a loopback TCP proxy in front of ClickHouse's native port.
type ProxyConfig struct {
	Listen   string // default 127.0.0.1:0; loopback only
	Upstream string // host:port of ClickHouse's native protocol
	Seed     uint64 // which inserts lose their reply, for a given sequence
}

// Validate reports a setting that cannot work.
func (c ProxyConfig) Validate() error {
	if c.Upstream == "" {
		return errors.New("proxy: no upstream address")
	}
	if c.Listen != "" {
		if err := loopbackAddr(c.Listen); err != nil {
			return fmt.Errorf("proxy: %w", err)
		}
	}
	return nil
}

func loopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("listen address %q is not a loopback address", addr)
	}
	return nil
}

// ProxyStats counts what went through the proxy.
type ProxyStats struct {
	Conns   uint64 // client connections accepted
	Inserts uint64 // inserts whose server reply was seen
	Dropped uint64 // of those, replies not forwarded: the client saw the connection close
}

// Proxy forwards ClickHouse native-protocol connections and, at a settable
// rate, drops the server's reply to an insert: it forwards the client's query
// and data, lets the server answer (so the insert is committed), then closes
// the client's connection instead of forwarding the answer. The client sees
// io.EOF for an insert that was stored (COMPAT.md), and must retry onto an
// idempotent table.
//
// It follows the protocol only as far as it must: an INSERT query is seen in
// the client's bytes, the server's first answer is the block header, the
// client's next bytes are the data, and the server's next answer is the
// reply to the insert.
type Proxy struct {
	cfg ProxyConfig
	ln  net.Listener
	log *slog.Logger

	dropRate atomic.Uint64 // math.Float64bits
	rngMu    sync.Mutex
	rng      *rand.Rand

	conns, inserts, dropped atomic.Uint64

	mu     sync.Mutex
	open   map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewProxy listens and starts forwarding.
func NewProxy(cfg ProxyConfig, logger *slog.Logger) (*Proxy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("proxy: listening on %s: %w", cfg.Listen, err)
	}
	p := &Proxy{cfg: cfg, ln: ln, log: logger.With("component", "clickhouse-proxy"), open: map[net.Conn]struct{}{},
		rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x2545f4914f6cdd1d))}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetDropRate sets the share of insert replies dropped from now on.
func (p *Proxy) SetDropRate(r float64) error {
	if err := validRate(r); err != nil {
		return fmt.Errorf("proxy drop rate: %w", err)
	}
	p.dropRate.Store(math.Float64bits(r))
	return nil
}

// Stats returns the counters so far.
func (p *Proxy) Stats() ProxyStats {
	return ProxyStats{Conns: p.conns.Load(), Inserts: p.inserts.Load(), Dropped: p.dropped.Load()}
}

// Close stops listening and closes every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.open {
		_ = c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.open[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.open, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.conns.Add(1)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(c)
		}()
	}
}

func (p *Proxy) drop() bool {
	r := math.Float64frombits(p.dropRate.Load())
	if r <= 0 {
		return false
	}
	p.rngMu.Lock()
	defer p.rngMu.Unlock()
	return p.rng.Float64() < r
}

// Insert tracking, per connection.
const (
	idle       = iota // no insert in progress
	queried           // the client sent an INSERT query
	headerSeen        // the server answered with the block header
	sending           // the client is sending the data: the server's next bytes answer the insert
)

var insertWord = []byte("INSERT INTO")

type link struct {
	mu    sync.Mutex
	state int
	tail  []byte // the client's last bytes, to find the query across reads
}

func (p *Proxy) serve(client net.Conn) {
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	server, err := net.Dial("tcp", p.cfg.Upstream)
	if err != nil {
		p.log.Debug("upstream unavailable; closing the client connection", "err", err)
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)

	l := &link{}
	done := make(chan struct{}, 2)
	go func() { p.clientToServer(l, client, server); done <- struct{}{} }()
	go func() { p.serverToClient(l, server, client); done <- struct{}{} }()
	<-done
	// Either side ending ends the pair.
	_ = client.Close()
	_ = server.Close()
	<-done
}

func (p *Proxy) clientToServer(l *link, client, server net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			l.mu.Lock()
			switch l.state {
			case idle:
				scan := append(l.tail, buf[:n]...)
				if bytes.Contains(bytes.ToUpper(scan), insertWord) {
					l.state = queried
					l.tail = l.tail[:0]
				} else {
					keep := min(len(scan), len(insertWord)-1)
					l.tail = append(l.tail[:0], scan[len(scan)-keep:]...)
				}
			case headerSeen:
				l.state = sending
			}
			l.mu.Unlock()
			if _, werr := server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) serverToClient(l *link, server, client net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			l.mu.Lock()
			switch l.state {
			case queried:
				l.state = headerSeen
			case sending:
				l.state = idle
				p.inserts.Add(1)
				if p.drop() {
					p.dropped.Add(1)
					l.mu.Unlock()
					p.log.Debug("dropped the server's reply to an insert")
					return // the caller closes both connections
				}
			}
			l.mu.Unlock()
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				p.log.Debug("upstream read ended", "err", err)
			}
			return
		}
	}
}

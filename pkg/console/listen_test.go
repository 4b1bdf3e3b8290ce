package console

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"settlemon/pkg/logtest"
)

// TestLoopbackHostsOnly: on loopback without a token only requests to a
// loopback name are answered (DNS-rebinding protection).
func TestLoopbackHostsOnly(t *testing.T) {
	h := newConsole(t, DefaultConfig(), &fakeExplainer{}, fakeDB{}).Handler()
	tests := []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:8080", true},
		{"127.0.0.1", true},
		{"127.0.0.1:1", true},
		{"127.1.2.3:8080", true}, // all of 127.0.0.0/8 is loopback
		{"localhost:8080", true},
		{"localhost", true},
		{"LocalHost:9", true},
		{"[::1]:8080", true},
		{"[::1]", true},
		{"[::ffff:127.0.0.1]:8080", true},
		{"::1", true}, // without brackets: still an address, not a name to rebind
		{"evil.example:8080", false},
		{"evil.example", false},
		{"localhost.evil.example", false},
		{"127.0.0.1.nip.io:8080", false},
		{"localhost.:8080", false},
		{"0.0.0.0:8080", false},
		{"10.0.0.1:8080", false},
		{"[::]:8080", false},
		{"[fe80::1]:8080", false},
		{"", false},
	}
	for _, tt := range tests {
		for _, path := range []string{"/", "/healthz", "/api/v1/traces/TR1/explain"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Host = tt.host
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if forbidden := rec.Code == http.StatusForbidden; forbidden == tt.ok {
				t.Errorf("Host %q, GET %s: status %d, want ok=%v\n%s", tt.host, path, rec.Code, tt.ok, rec.Body)
			}
			if !tt.ok && !strings.Contains(rec.Body.String(), "DNS-rebinding") {
				t.Errorf("Host %q: the 403 does not say why:\n%s", tt.host, rec.Body)
			}
		}
	}

	// With a token the token guards the API: any Host reaches it.
	ht := newConsole(t, DefaultConfigOn("127.0.0.1:8080", "s3cret"), &fakeExplainer{}, fakeDB{}).Handler()
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.Host = "evil.example"
	rec := httptest.NewRecorder()
	ht.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("with a token, Host evil.example: status %d, want 200", rec.Code)
	}
}

// TestLoopbackHostsOnlyServed: the same through a real listener; the 403
// names the address to open instead.
func TestLoopbackHostsOnlyServed(t *testing.T) {
	c := newConsole(t, DefaultConfigOn("127.0.0.1:0", ""), &fakeExplainer{}, fakeDB{})
	addr := serve(t, c, nil)
	for host, want := range map[string]int{"": 200, "rebind.evil.example:" + port(addr): 403} {
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/healthz", nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("Host %q: status %d, want %d\n%s", host, res.StatusCode, want, b)
		}
		if want == 403 && !strings.Contains(string(b), "open http://"+addr+" instead") {
			t.Errorf("the 403 does not name the address to open:\n%s", b)
		}
	}
}

// TestServeTLS: with a certificate and key the console serves HTTPS only;
// beyond loopback that is what lets it start with a token.
func TestServeTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	cfg := DefaultConfigOn("0.0.0.0:8443", "s3cret")
	cfg.TLSCertFile, cfg.TLSKeyFile = certFile, keyFile
	if err := cfg.Validate(); err != nil {
		t.Fatalf("beyond loopback with a token and TLS: %v", err)
	}
	var logs logtest.Buffer
	c, err := New(cfg, Deps{Explainer: &fakeExplainer{}, DB: fakeDB{}, Logger: logs.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	if c.Scheme() != "https" {
		t.Errorf("Scheme() = %q", c.Scheme())
	}
	addr := serve(t, c, nil) // a free loopback port; the configuration is the one for beyond loopback

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, tt := range []struct {
		path, token string
		want        int
	}{
		{"/healthz", "", 200},
		{"/api/v1/traces/TR1/explain", "", 401},
		{"/api/v1/traces/NOPE/explain", "s3cret", 404},
	} {
		req, _ := http.NewRequest(http.MethodGet, "https://"+addr+tt.path, nil)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET https %s: %v", tt.path, err)
		}
		res.Body.Close()
		if res.StatusCode != tt.want || res.TLS == nil {
			t.Errorf("GET https %s: status %d (TLS %v), want %d", tt.path, res.StatusCode, res.TLS != nil, tt.want)
		}
	}
	// Plain HTTP to the TLS port gets no answer from the API.
	if res, err := http.Get("http://" + addr + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Error("plain HTTP to the TLS listener answered 200")
		}
	}
	if strings.Contains(logs.String(), "travel in clear") {
		t.Errorf("TLS served, yet a warning about clear text:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "scheme=https") {
		t.Errorf("the listening line does not say https:\n%s", logs.String())
	}
}

func TestTLSFilesRefused(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t)
	otherCert, _, _ := selfSigned(t)
	for name, files := range map[string][2]string{
		"missing certificate": {filepath.Join(t.TempDir(), "none.pem"), keyFile},
		"not PEM":             {keyFile, certFile},
		"key of another cert": {otherCert, keyFile},
	} {
		cfg := DefaultConfig()
		cfg.TLSCertFile, cfg.TLSKeyFile = files[0], files[1]
		if _, err := New(cfg, Deps{Explainer: &fakeExplainer{}, DB: fakeDB{}}); err == nil || !strings.Contains(err.Error(), "console TLS") {
			t.Errorf("%s: New = %v, want a console TLS error", name, err)
		}
	}
}

// TestInsecureHTTPWarns: beyond loopback without TLS is refused unless
// allowed, and then served with a warning that names the fix.
func TestInsecureHTTPWarns(t *testing.T) {
	cfg := DefaultConfigOn("0.0.0.0:8080", "s3cret")
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--tls-cert-file") || !strings.Contains(err.Error(), "--allow-insecure-http") {
		t.Errorf("beyond loopback without TLS: Validate = %v, want a refusal naming both fixes", err)
	}
	cfg.AllowInsecureHTTP = true
	var logs logtest.Buffer
	c, err := New(cfg, Deps{Explainer: &fakeExplainer{}, DB: fakeDB{}, Logger: logs.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, c, nil)
	res, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "travel in clear") || !strings.Contains(out, "--tls-cert-file") {
		t.Errorf("no warning about the token in clear:\n%s", out)
	}

	// On loopback plain HTTP is the default and says nothing.
	var quiet logtest.Buffer
	c, err = New(DefaultConfigOn("127.0.0.1:0", ""), Deps{Explainer: &fakeExplainer{}, DB: fakeDB{}, Logger: quiet.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, c, nil)
	if strings.Contains(quiet.String(), "level=WARN") {
		t.Errorf("loopback plain HTTP warned:\n%s", quiet.String())
	}
}

// TestServeRefusesListenerBeyondLoopback: a loopback configuration's rules
// (no token, plain HTTP) are not applied to a listener elsewhere.
func TestServeRefusesListenerBeyondLoopback(t *testing.T) {
	c := newConsole(t, DefaultConfigOn("127.0.0.1:8080", ""), &fakeExplainer{}, fakeDB{})
	err := c.Serve(context.Background(), fakeListener{addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 8080}})
	if err == nil || !strings.Contains(err.Error(), "beyond loopback") {
		t.Errorf("Serve on 10.0.0.1 with a loopback configuration = %v, want a refusal", err)
	}
}

type fakeListener struct{ addr net.Addr }

func (l fakeListener) Accept() (net.Conn, error) { return nil, errors.New("fake listener") }
func (l fakeListener) Close() error              { return nil }
func (l fakeListener) Addr() net.Addr            { return l.addr }

// serve runs c on a free loopback port until the test ends and returns its
// address.
func serve(tb testing.TB, c *Console, ln net.Listener) string {
	tb.Helper()
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			tb.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// selfSigned writes a self-signed certificate for 127.0.0.1, [::1] and
// localhost and its key as PEM files, and returns them with a pool trusting
// the certificate.
func selfSigned(tb testing.TB) (certFile, keyFile string, pool *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "settlemon console test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		tb.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestCloseStopsServe: Close ends a running Serve as cancelling its context
// does, and Serve returns cleanly; the port no longer answers.
func TestCloseStopsServe(t *testing.T) {
	var logs logtest.Buffer
	c, err := New(DefaultConfigOn("127.0.0.1:0", ""), Deps{Explainer: &fakeExplainer{}, DB: fakeDB{}, Logger: logs.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- c.Serve(context.Background(), ln) }()
	for {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Serve returned before Close: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Serve's last act before returning is the "console stopped" line; its
	// result reaches the channel only after it returned, so the log, not
	// the channel, tells whether Close waited.
	if !strings.Contains(logs.String(), "console stopped") {
		t.Fatalf("Close returned while Serve was still running; logs:\n%s", logs.String())
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("the console still answers after Close")
	}
	if err := c.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
}

// Package fastwstest holds what the tests of the Fiber adapters share: a
// leak check that knows fasthttp's goroutines, a log to read the adapters'
// reports from, and a certificate to serve TLS with.
package fastwstest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// DateUpdater names the goroutine fasthttp starts the first time any
// server serves, to refresh the Date header every second, and never stops.
// It sleeps in time.Sleep, so goleak.IgnoreTopFunction cannot name it;
// IgnoreAnyFunction names exactly that goroutine and nothing else.
func DateUpdater() goleak.Option {
	return goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1")
}

// Main runs the tests and then the leak check, and exits. The check waits
// longer than goleak.VerifyTestMain: an app that kept fasthttp's default
// MaxIdleWorkerDuration, like an Example's, has a worker pool cleaner that
// sees the server stopped only when it next wakes, up to 10 s later.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		code = verifyNoLeaks()
	}
	os.Exit(code)
}

func verifyNoLeaks() int {
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := goleak.Find(DateUpdater())
		if err == nil {
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			return 1
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Log collects what a framework's logger writes, for tests to read while
// the server still writes.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p; the logger calls it from the server's goroutines.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// SelfSigned makes a certificate for 127.0.0.1 and localhost, valid for an
// hour, and returns a server configuration that presents it and a pool
// that trusts it. httptest.NewTLSServer cannot host fasthttp, and the
// certificate it uses is internal to net/http.
func SelfSigned(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hotstate test"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}, roots
}

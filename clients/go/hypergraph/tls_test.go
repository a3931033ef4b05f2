package hypergraph

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeSelfSigned writes a self-signed certificate and its key as PEM files.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hypergraph test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		DNSNames:              []string{"localhost"},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	write := func(path, kind string, der []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(certFile, "CERTIFICATE", der)
	write(keyFile, "PRIVATE KEY", keyDER)
	return certFile, keyFile
}

func TestTLSCredentialsReadCAAndClientCertificate(t *testing.T) {
	cert, key := writeSelfSigned(t, t.TempDir())
	creds, err := TLSCredentials(TLSConfig{CAFile: cert, CertFile: cert, KeyFile: key, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if p := creds.Info().SecurityProtocol; p != "tls" {
		t.Fatalf("security protocol %q, want tls", p)
	}
	if _, err := TLSCredentials(TLSConfig{}); err != nil {
		t.Fatalf("system roots: %v", err)
	}
}

func TestTLSCredentialsRefuseWhatCannotBeUsed(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]TLSConfig{
		"missing CA file":       {CAFile: filepath.Join(dir, "absent.pem")},
		"CA file not PEM":       {CAFile: notPEM},
		"cert without key":      {CertFile: cert},
		"key without cert":      {KeyFile: key},
		"key of the wrong kind": {CertFile: cert, KeyFile: notPEM},
	} {
		if _, err := TLSCredentials(c); err == nil || !strings.HasPrefix(err.Error(), "hypergraph: ") {
			t.Errorf("%s: error %v, want a hypergraph error", name, err)
		}
	}
}

func TestDialReportsAnUnusableTLSConfig(t *testing.T) {
	_, err := Dial(context.Background(), "127.0.0.1:1", WithTLS(TLSConfig{CAFile: filepath.Join(t.TempDir(), "absent.pem")}))
	if err == nil || !strings.Contains(err.Error(), "CA file") {
		t.Fatalf("Dial error %v, want the CA file's", err)
	}
}

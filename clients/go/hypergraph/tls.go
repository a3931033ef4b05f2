package hypergraph

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"google.golang.org/grpc/credentials"
)

// TLSConfig says how to connect over TLS.
type TLSConfig struct {
	// CAFile is a PEM bundle of the certificate authorities to trust; ""
	// trusts the system's roots.
	CAFile string
	// CertFile and KeyFile are the client's certificate chain and private key
	// (PEM) for mutual TLS: both or neither.
	CertFile, KeyFile string
	// ServerName is the name the server's certificate must carry; "" takes
	// the host of the dial target.
	ServerName string
}

// TLSCredentials reads the files of c and makes transport credentials for
// grpc (WithTLS does this for Dial).
func TLSCredentials(c TLSConfig) (credentials.TransportCredentials, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("hypergraph: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("hypergraph: CA file %s holds no PEM certificate", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("hypergraph: a client certificate needs both CertFile and KeyFile")
	}
	if c.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("hypergraph: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(cfg), nil
}

// WithTLS connects over TLS as c says: the server's certificate is checked
// against c.CAFile (or the system's roots), and with c.CertFile and c.KeyFile
// the client presents its own certificate (mutual TLS). Dial reports a file
// that cannot be read.
func WithTLS(c TLSConfig) DialOption {
	creds, err := TLSCredentials(c)
	return func(d *dialConfig) { d.creds, d.err = creds, err }
}

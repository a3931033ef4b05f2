package hypergraph_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/hypergraph-grpc/hypergraph-grpc/clients/go/hypergraph"
	"github.com/hypergraph-grpc/hypergraph-grpc/clients/go/internal/testserver"
)

// startTLSServer makes test certificates and starts a server serving TLS with
// them (mTLS too when clientCA); it returns the server's address and the
// certificate directory.
func startTLSServer(t *testing.T, clientCA bool) (addr, pki string) {
	t.Helper()
	if serverErr != nil {
		t.Fatalf("no repository root or server arguments: %v", serverErr)
	}
	pki = t.TempDir()
	if err := testserver.MakeCertificates(root, pki); err != nil {
		t.Fatal(err)
	}
	args, err := testserver.ServerArgs(root)
	if err != nil {
		t.Fatal(err)
	}
	args = append(args, "--tls-cert", filepath.Join(pki, "server.pem"), "--tls-key", filepath.Join(pki, "server.key"))
	if clientCA {
		args = append(args, "--tls-client-ca", filepath.Join(pki, "ca.pem"))
	}
	srv, err := testserver.Start(root, args, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv.Addr, pki
}

func dialTLS(t *testing.T, addr string, c hypergraph.TLSConfig) *hypergraph.Client {
	t.Helper()
	client, err := hypergraph.Dial(context.Background(), addr, hypergraph.WithTLS(c))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func tokensText(t *testing.T, client *hypergraph.Client) string {
	t.Helper()
	var got []string
	for text, err := range client.Text(context.Background(), "tokens", map[string]any{"count": 3, "prefix": "s"}, hypergraph.WithDisableMerge()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, text)
	}
	return strings.Join(got, "|")
}

func assertUnavailable(t *testing.T, client *hypergraph.Client, what string) {
	t.Helper()
	_, err := client.ListGraphs(context.Background())
	var e *hypergraph.Error
	if !errors.As(err, &e) || e.Code() != codes.Unavailable {
		t.Fatalf("%s: ListGraphs = %v, want an Unavailable hypergraph.Error", what, err)
	}
}

func TestTLSServerStreamsTokensToAClientTrustingItsCA(t *testing.T) {
	addr, pki := startTLSServer(t, false)
	client := dialTLS(t, addr, hypergraph.TLSConfig{CAFile: filepath.Join(pki, "ca.pem")})
	if got := tokensText(t, client); got != "s0 |s1 |s2 " {
		t.Fatalf("tokens over TLS %q, want s0..s2", got)
	}
	untrusting := dialTLS(t, addr, hypergraph.TLSConfig{CAFile: filepath.Join(pki, "other-ca.pem")})
	assertUnavailable(t, untrusting, "client trusting another CA")
}

func TestMutualTLSServerAnswersOnlyAClientWithACertificate(t *testing.T) {
	addr, pki := startTLSServer(t, true)
	client := dialTLS(t, addr, hypergraph.TLSConfig{
		CAFile:   filepath.Join(pki, "ca.pem"),
		CertFile: filepath.Join(pki, "client.pem"),
		KeyFile:  filepath.Join(pki, "client.key"),
	})
	if got := tokensText(t, client); got != "s0 |s1 |s2 " {
		t.Fatalf("tokens over mTLS %q, want s0..s2", got)
	}
	anonymous := dialTLS(t, addr, hypergraph.TLSConfig{CAFile: filepath.Join(pki, "ca.pem")})
	assertUnavailable(t, anonymous, "mTLS without a client certificate")
}

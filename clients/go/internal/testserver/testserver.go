// Package testserver starts the Python hypergraph-grpc server on a free
// loopback port for the Go client's tests and benchmark.
package testserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stderrKeep bounds the server log kept for error reports.
const stderrKeep = 256 << 10

// Server is a running `hypergraph-grpc serve` process.
type Server struct {
	// Addr is the "host:port" the server listens on.
	Addr string

	cmd    *exec.Cmd
	stderr *lockedBuffer
	exited chan struct{}
}

// Root finds the repository root: $HYPERGRAPH_ROOT, else the first parent of
// the working directory that holds pyproject.toml.
func Root() (string, error) {
	if r := os.Getenv("HYPERGRAPH_ROOT"); r != "" {
		return r, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "pyproject.toml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root not found: set HYPERGRAPH_ROOT or run inside the repository")
		}
		dir = parent
	}
}

// ServerArgs reads server_args from clients/scenarios.json under root.
func ServerArgs(root string) ([]string, error) {
	raw, err := os.ReadFile(filepath.Join(root, "clients", "scenarios.json"))
	if err != nil {
		return nil, err
	}
	var doc struct {
		ServerArgs []string `json:"server_args"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("clients/scenarios.json: %w", err)
	}
	return doc.ServerArgs, nil
}

// Start runs `<root>/.venv/bin/hypergraph-grpc serve --host 127.0.0.1 --port 0 args...`
// and waits (at most timeout) for its `listening on HOST:PORT` line.
func Start(root string, args []string, timeout time.Duration) (*Server, error) {
	bin := filepath.Join(root, ".venv", "bin", "hypergraph-grpc")
	return StartCommand(root, append([]string{bin, "serve", "--host", "127.0.0.1", "--port", "0"}, args...), timeout)
}

// StartCommand runs argv in root (any server that prints `listening on
// HOST:PORT` first, e.g. bench/baseline_server.py) and waits for that line.
func StartCommand(root string, argv []string, timeout time.Duration) (*Server, error) {
	bin := argv[0]
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s not found: run `make install` at the repository root first", bin)
	}
	cmd := exec.Command(bin, argv[1:]...)
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so Stop reaches any child too
	s := &Server{cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() { cmd.Wait(); close(s.exited) }()

	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addr <- strings.TrimSpace(a)
				break
			}
		}
		for sc.Scan() { // keep draining so the server never blocks on stdout
		}
	}()
	select {
	case s.Addr = <-addr:
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("server exited before listening:\n%s", s.Stderr())
	case <-time.After(timeout):
		s.Stop()
		return nil, fmt.Errorf("server did not print `listening on` within %s:\n%s", timeout, s.Stderr())
	}
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Stderr returns what the server wrote to stderr so far.
func (s *Server) Stderr() string { return s.stderr.String() }

// Stop sends SIGTERM to the server's process group, then SIGKILL after 10 s.
func (s *Server) Stop() {
	pgid := -s.cmd.Process.Pid
	syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		syscall.Kill(pgid, syscall.SIGKILL)
		<-s.exited
	}
}

// lockedBuffer keeps the last stderrKeep bytes written to it, safely across goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > stderrKeep {
		tail := append([]byte(nil), b.buf.Bytes()[b.buf.Len()-stderrKeep/2:]...)
		b.buf.Reset()
		b.buf.Write(tail)
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// MakeCertificates writes the repository's test certificates into dir with
// `python -m tests.support.certificates dir`: ca.pem, server.pem/.key (for
// 127.0.0.1 and localhost), client.pem/.key, and other-ca.pem (a CA the
// server's certificate is not signed by), among others.
func MakeCertificates(root, dir string) error {
	python := filepath.Join(root, ".venv", "bin", "python")
	cmd := exec.Command(python, "-m", "tests.support.certificates", dir)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("making test certificates: %w\n%s", err, out)
	}
	return nil
}

package hypergraph_test

import (
	"io"
	"net"
	"sync"
	"testing"
)

// relay is a loopback TCP relay to a server, started by a test on a free port:
// a client dialled to its Addr talks to the server through it, and the test
// can cut every open connection at once, as a lost network or a reset would.
type relay struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu       sync.Mutex
	open     map[net.Conn]struct{}
	accepted int
}

// startRelay starts a relay to target; the test's cleanup stops it.
func startRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target, open: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.serve()
	t.Cleanup(func() {
		r.refuse()
		r.cut()
		r.wg.Wait()
	})
	return r
}

// Addr is the relay's address, to dial instead of the server's.
func (r *relay) Addr() string { return r.ln.Addr().String() }

// Accepted counts the connections the relay has accepted so far.
func (r *relay) Accepted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.accepted
}

// cut resets every open connection, both sides (SetLinger(0): an RST, not a
// FIN); the relay still accepts new ones. It returns how many pairs it cut.
func (r *relay) cut() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.open {
		reset(c)
	}
	n := len(r.open) / 2
	clear(r.open)
	return n
}

// refuse closes the listener: from now on connections to the relay are refused.
func (r *relay) refuse() { r.ln.Close() }

func (r *relay) serve() {
	defer r.wg.Done()
	for {
		down, err := r.ln.Accept()
		if err != nil {
			return // the listener was closed
		}
		up, err := net.Dial("tcp", r.target)
		if err != nil {
			reset(down)
			continue
		}
		r.mu.Lock()
		r.accepted++
		r.open[down], r.open[up] = struct{}{}, struct{}{}
		r.mu.Unlock()
		r.wg.Add(2)
		go r.pipe(up, down)
		go r.pipe(down, up)
	}
}

// pipe copies src to dst; when either side ends, it closes both.
func (r *relay) pipe(dst, src net.Conn) {
	defer r.wg.Done()
	_, _ = io.Copy(dst, src)
	r.mu.Lock()
	delete(r.open, dst)
	delete(r.open, src)
	r.mu.Unlock()
	dst.Close()
	src.Close()
}

func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hypergraph-grpc/hypergraph-grpc/clients/go/internal/testserver"
)

// TestMain lets the test binary act as hgchat itself (when HGCHAT_AS_MAIN is
// set), so the test runs the real program without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("HGCHAT_AS_MAIN") == "1" {
		os.Args = append(os.Args[:1], flagArgs(os.Args[1:])...)
		main()
		return
	}
	os.Exit(m.Run())
}

// flagArgs drops the test binary's own -test.* flags.
func flagArgs(args []string) []string {
	var out []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-test.") {
			out = append(out, a)
		}
	}
	return out
}

// TestCtrlCStopsTheRun runs hgchat, streams a long `tokens` run, sends
// SIGINT after the first tokens and checks the run ends STOPPED with the
// user_stop info, the program exiting with 130 (128+SIGINT).
func TestCtrlCStopsTheRun(t *testing.T) {
	srv := startServer(t)
	cmd := exec.Command(os.Args[0], "-target", srv.Addr, "-graph", "tokens", "-i", "count=100000", "-i", "delay_ms=5", "-i", "prefix=k")
	cmd.Env = append(os.Environ(), "HGCHAT_AS_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	r := bufio.NewReader(stdout)
	first, err := r.ReadString(' ') // the first token has arrived: the run is live
	if err != nil || first != "k0 " {
		t.Fatalf("first token %q, %v; stderr:\n%s", first, err, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	rest, _ := r.ReadString(0)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("hgchat did not end after Ctrl-C; stderr:\n%s", stderr.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("hgchat exited with %v, want exit status 130 (stopped); stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), `[stopped: {"kind":"user_stop"}]`) {
		t.Fatalf("stderr does not report the user stop:\n%s", stderr.String())
	}
	if strings.Contains(rest, "k99999") {
		t.Fatalf("the run was not stopped: all tokens arrived")
	}
}

func startServer(t *testing.T) *testserver.Server {
	t.Helper()
	root, err := testserver.Root()
	if err != nil {
		t.Fatal(err)
	}
	args, err := testserver.ServerArgs(root)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := testserver.Start(root, args, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Stop()
		if t.Failed() {
			t.Logf("server stderr:\n%s", srv.Stderr())
		}
	})
	return srv
}

func TestInputsFlag(t *testing.T) {
	in := inputs{}
	for _, s := range []string{"count=12", "name=plain text", `obj={"a":[1,2]}`, "empty="} {
		if err := in.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if in["name"] != "plain text" || in["empty"] != "" || in["count"].(interface{ String() string }).String() != "12" {
		t.Fatalf("inputs = %#v", in)
	}
	if err := in.Set("novalue"); err == nil {
		t.Fatal("NAME without =VALUE must be rejected")
	}
}

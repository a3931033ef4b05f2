// Command hgchat streams one turn of the `chat` demo graph to stdout, token by
// token. Ctrl-C stops the run on the server (Stop with {"kind": "user_stop"})
// and prints what was generated so far; a second Ctrl-C quits at once.
// Exit codes: 0 completed, 1 failed or RPC error, 2 usage, 130 stopped.
//
//	go run ./cmd/hgchat -prompt "Tell me about hypergraphs"
//	go run ./cmd/hgchat -graph tokens -i count=2000 -i delay_ms=5   # any graph, any inputs
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hypergraph-grpc/hypergraph-grpc/clients/go/hypergraph"
)

func main() {
	target := flag.String("target", "127.0.0.1:50051", "server address host:port")
	prompt := flag.String("prompt", "", "the user's message (or give it as arguments)")
	graph := flag.String("graph", "chat", "the graph to run")
	input := flag.String("input", "prompt", "the graph input that receives the prompt")
	values := inputs{}
	flag.Var(values, "i", "another input as NAME=VALUE (VALUE is JSON if it parses, else text); repeatable")
	flag.Parse()
	if *prompt == "" {
		*prompt = strings.Join(flag.Args(), " ")
	}
	if *prompt != "" {
		values[*input] = *prompt
	}
	if len(values) == 0 {
		fmt.Fprintln(os.Stderr, "hgchat: give a prompt: hgchat -prompt \"hello\"")
		os.Exit(2)
	}
	os.Exit(chat(*target, *graph, values))
}

// inputs collects -i NAME=VALUE flags.
type inputs map[string]any

func (in inputs) String() string { return fmt.Sprint(map[string]any(in)) }

func (in inputs) Set(s string) error {
	name, raw, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber() // keep integers exact
	if err := dec.Decode(&v); err != nil || dec.More() {
		v = raw
	}
	in[name] = v
	return nil
}

func chat(target, graph string, values map[string]any) int {
	client, err := hypergraph.Dial(context.Background(), target)
	if err != nil {
		return fail(err)
	}
	defer client.Close()

	// The stream keeps its own context: Ctrl-C turns into a Stop, so the run
	// ends STOPPED with our info and we still receive everything up to RunEnded.
	wfID := newWorkflowID()
	stream, err := client.Iter(context.Background(), graph, values, hypergraph.WithWorkflowID(wfID))
	if err != nil {
		return fail(err)
	}
	sigCtx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	finished := make(chan struct{})
	defer close(finished) // runs before stopSignals: a normal end sends no Stop
	go stopOnSignal(sigCtx, finished, stopSignals, client, wfID)

	for text, err := range stream.Text() {
		if err != nil {
			fmt.Println()
			return fail(err)
		}
		fmt.Print(text)
	}
	fmt.Println()
	if res := stream.Result(); res.Status == hypergraph.StatusStopped {
		info, _ := json.Marshal(res.StopInfo)
		fmt.Fprintf(os.Stderr, "[stopped: %s]\n", info)
		return 130 // 128+SIGINT, as the TypeScript, Java and Rust examples exit
	}
	return 0
}

// stopOnSignal sends Stop on the first Ctrl-C; it then restores the default
// handling so that a second Ctrl-C ends the program at once.
func stopOnSignal(sigCtx context.Context, finished <-chan struct{}, stopSignals func(), client *hypergraph.Client, wfID string) {
	select {
	case <-finished:
		return
	case <-sigCtx.Done():
	}
	stopSignals()
	fmt.Fprintln(os.Stderr, "\n[stopping... Ctrl-C again to quit at once]")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := client.Stop(ctx, wfID, map[string]any{"kind": "user_stop"}, 0); err != nil {
		fmt.Fprintf(os.Stderr, "\nhgchat: stop failed: %v\n", err)
	}
}

func newWorkflowID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "hgchat-" + hex.EncodeToString(b)
}

func fail(err error) int {
	fmt.Fprintf(os.Stderr, "hgchat: %v\n", err)
	return 1
}

package hypergraph_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hypergraph-grpc/hypergraph-grpc/clients/go/hypergraph"
)

// Live tests of the wrapper's own behaviour, beyond the shared scenarios.

func TestTextYieldsTokensInOrder(t *testing.T) {
	client := dial(t)
	var got []string
	for text, err := range client.Text(context.Background(), "tokens", map[string]any{"count": 5, "prefix": "w"}, hypergraph.WithDisableMerge()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, text)
	}
	if strings.Join(got, "|") != "w0 |w1 |w2 |w3 |w4 " {
		t.Fatalf("tokens %q, want w0..w4 one per chunk", got)
	}
}

func TestTextViewLeavesOutTheNodeLifecycle(t *testing.T) {
	client := dial(t)
	stream, err := client.Iter(context.Background(), "tokens", map[string]any{"count": 3}, hypergraph.WithTextView())
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	var kinds []string
	for stream.Receive() {
		switch stream.Event().(type) {
		case *hypergraph.RunStarted:
			kinds = append(kinds, "started")
		case *hypergraph.Chunk:
			if len(kinds) == 0 || kinds[len(kinds)-1] != "chunk" {
				kinds = append(kinds, "chunk")
			}
		case *hypergraph.RunEnded:
			kinds = append(kinds, "ended")
		default:
			kinds = append(kinds, fmt.Sprintf("%T", stream.Event()))
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(kinds, ",") != "started,chunk,ended" {
		t.Fatalf("events %v, want RunStarted, chunks, RunEnded only", kinds)
	}
}

func TestTextEndsWithRunErrorOfFailedRun(t *testing.T) {
	client := dial(t)
	var last error
	for _, err := range client.Text(context.Background(), "fail", map[string]any{"message": "kaput"}) {
		last = err
	}
	var runErr *hypergraph.RunError
	if !errors.As(last, &runErr) || runErr.Type != "ValueError" || !strings.Contains(runErr.Message, "kaput") {
		t.Fatalf("last error %v, want the run's ValueError", last)
	}
}

func TestIterReportsRejectionAtCall(t *testing.T) {
	client := dial(t)
	_, err := client.Iter(context.Background(), "no_such_graph", nil)
	var e *hypergraph.Error
	if !errors.As(err, &e) || e.Code() != codes.NotFound || e.Reason != "GRAPH_NOT_FOUND" {
		t.Fatalf("Iter error %v, want NOT_FOUND / GRAPH_NOT_FOUND", err)
	}
}

func TestStopUnknownWorkflowIsNotFound(t *testing.T) {
	client := dial(t)
	outcome, err := client.Stop(context.Background(), "go-never-started", map[string]any{"kind": "user_stop"}, time.Second)
	want := hypergraph.StopOutcome{Found: false, RunID: "", State: hypergraph.RunStateUnspecified}
	if err != nil || outcome != want {
		t.Fatalf("Stop = %+v, %v; want %+v, nil", outcome, err, want)
	}
}

// Leaving the range loop early closes the stream, which stops the run: the
// same workflow id becomes free again.
func TestBreakingOutOfEventsStopsTheRun(t *testing.T) {
	client := dial(t)
	wfID := uniqueID("break")
	stream, err := client.Iter(context.Background(), "tokens", map[string]any{"count": 100000, "delay_ms": 5}, hypergraph.WithWorkflowID(wfID))
	if err != nil {
		t.Fatal(err)
	}
	for ev, err := range stream.Events() {
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ev.(*hypergraph.Chunk); ok {
			break
		}
	}
	if stream.Receive() || stream.Err() != nil {
		t.Fatalf("a closed stream must end quietly, got event %v err %v", stream.Event(), stream.Err())
	}
	waitWorkflowFree(t, client, wfID)
}

// A streaming call past its context deadline ends with DeadlineExceeded (an
// error wrapping context.DeadlineExceeded), and the server ends the run.
func TestIterDeadlineEndsStreamAndRun(t *testing.T) {
	client := dial(t)
	wfID := uniqueID("deadline")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	stream, err := client.Iter(ctx, "tokens", map[string]any{"count": 100000, "delay_ms": 5}, hypergraph.WithWorkflowID(wfID))
	if err != nil {
		t.Fatal(err)
	}
	chunks := 0
	var streamErr error
	for ev, err := range stream.Events() {
		if err != nil {
			streamErr = err
			break
		}
		if _, ok := ev.(*hypergraph.RunEnded); ok {
			t.Fatal("the run ended before its deadline: make it longer")
		}
		if _, ok := ev.(*hypergraph.Chunk); ok {
			chunks++
		}
	}
	if status.Code(streamErr) != codes.DeadlineExceeded || !errors.Is(streamErr, context.DeadlineExceeded) {
		t.Fatalf("the stream ended with %v, want DeadlineExceeded", streamErr)
	}
	if chunks == 0 {
		t.Error("no chunk arrived before the deadline")
	}
	waitWorkflowFree(t, client, wfID)
}

// A detached stream's run survives the stream: Stop still finds it.
func TestDetachedRunSurvivesClose(t *testing.T) {
	client := dial(t)
	wfID := uniqueID("detach")
	stream, err := client.Iter(context.Background(), "tokens", map[string]any{"count": 100000, "delay_ms": 5}, hypergraph.WithWorkflowID(wfID), hypergraph.WithDetach())
	if err != nil {
		t.Fatal(err)
	}
	stream.Close()
	outcome, err := client.Stop(context.Background(), wfID, map[string]any{"kind": "test_cleanup"}, time.Second)
	if err != nil || !outcome.Found || outcome.State != hypergraph.RunStateStopping || outcome.RunID == "" {
		t.Fatalf("Stop of the detached run = %+v, %v; want found, STOPPING, a run id", outcome, err)
	}
	waitWorkflowFree(t, client, wfID)
}

func TestListGraphsDescribesInputs(t *testing.T) {
	client := dial(t)
	graphs, err := client.ListGraphs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range graphs {
		if g.Name != "tokens" {
			continue
		}
		inputs := map[string]hypergraph.InputInfo{}
		for _, in := range g.Inputs {
			inputs[in.Name] = in
		}
		if !inputs["count"].Required || inputs["prefix"].Required || inputs["prefix"].Default != "tok" {
			t.Fatalf("tokens inputs = %+v", g.Inputs)
		}
		if len(g.Outputs) != 1 || g.Outputs[0].Name != "text" {
			t.Fatalf("tokens outputs = %+v", g.Outputs)
		}
		return
	}
	t.Fatal("no tokens graph listed")
}

func TestRunSelectsOutputs(t *testing.T) {
	client := dial(t)
	res, err := client.Run(context.Background(), "add", map[string]any{"a": 1, "b": 2}, hypergraph.WithSelect("sum"), hypergraph.WithWorkflowID(uniqueID("select")))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != hypergraph.StatusCompleted || len(res.Values) != 1 || res.Values["sum"] != int64(3) || !strings.HasPrefix(res.WorkflowID, "go-select-") {
		t.Fatalf("result = %+v", res)
	}
}

// waitWorkflowFree runs `add` under wfID until the server no longer answers
// ALREADY_EXISTS, i.e. until the earlier run with that id has ended.
func waitWorkflowFree(t *testing.T, client *hypergraph.Client, wfID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, err := client.Run(ctx, "add", map[string]any{"a": 1, "b": 1}, hypergraph.WithWorkflowID(wfID))
		if err == nil {
			return
		}
		if status.Code(err) != codes.AlreadyExists {
			t.Fatalf("workflow %s still live or broken: %v", wfID, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The connect-go style loop sees the run's lifecycle in order.
func TestReceiveLoopSeesLifecycle(t *testing.T) {
	client := dial(t)
	stream, err := client.Iter(context.Background(), "tokens", map[string]any{"count": 3})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for stream.Receive() {
		switch e := stream.Event().(type) {
		case *hypergraph.RunStarted:
			if e.Graph != "tokens" || e.Node != "" {
				t.Errorf("run started = %+v", e)
			}
			kinds = append(kinds, "run_started")
		case *hypergraph.NodeStarted:
			kinds = append(kinds, "node_started:"+e.Node)
		case *hypergraph.NodeEnded:
			kinds = append(kinds, "node_ended:"+e.Node)
		case *hypergraph.RunEnded:
			kinds = append(kinds, "run_ended:"+e.Result.Status.String())
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(kinds, " ")
	want := "run_started node_started:emit_tokens node_ended:emit_tokens run_ended:COMPLETED"
	if got != want {
		t.Fatalf("lifecycle %q, want %q", got, want)
	}
	if stream.Result() == nil || stream.Result().Values["text"] != "tok0 tok1 tok2 " {
		t.Fatalf("result = %+v", stream.Result())
	}
}

func TestListRunsShowsALiveRun(t *testing.T) {
	client := dial(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.Iter(ctx, "tokens", map[string]any{"count": 100000, "delay_ms": 5},
		hypergraph.WithWorkflowID("go-listed"), hypergraph.WithDetach())
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range stream.Events() {
		if err != nil {
			t.Fatal(err)
		}
		break // started; detached, so leaving the loop leaves it running
	}
	defer client.Stop(context.Background(), "go-listed", nil, 0)
	runs, err := client.ListRuns(context.Background(), "tokens")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.WorkflowID == "go-listed" {
			if r.Graph != "tokens" || r.State != hypergraph.RunStateRunning || r.Owner == "" {
				t.Fatalf("listed run %+v", r)
			}
			return
		}
	}
	t.Fatalf("ListRuns = %+v, missing go-listed", runs)
}

func TestWatchOfAnUnknownWorkflowIsNotFound(t *testing.T) {
	client := dial(t)
	_, err := client.Watch(context.Background(), "go-nobody-here", 0)
	var e *hypergraph.Error
	if !errors.As(err, &e) || e.Code() != codes.NotFound {
		t.Fatalf("Watch error %v, want NotFound for a workflow the server does not know", err)
	}
}

// A TLS client talking to the plaintext test server fails its handshake: the
// call is Unavailable, never answered in plaintext.
func TestTLSToAPlaintextServerIsUnavailable(t *testing.T) {
	dial(t) // fails the test when there is no server
	client, err := hypergraph.Dial(context.Background(), serverAddr, hypergraph.WithTLS(hypergraph.TLSConfig{ServerName: "localhost"}))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_, err = client.ListGraphs(context.Background())
	var e *hypergraph.Error
	if !errors.As(err, &e) || e.Code() != codes.Unavailable {
		t.Fatalf("ListGraphs over TLS = %v, want Unavailable", err)
	}
}

// watchThroughRelay starts a detached tokens run and watches it from seq 0 by
// a client that dials a relay to the server; it returns the stream and the
// relay, after reading n events.
func watchThroughRelay(t *testing.T, name string, n int, opts ...hypergraph.WatchOption) (*hypergraph.Stream, *relay) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	wfID := startDetached(ctx, t, dial(t), scenario{Name: name, Graph: "tokens",
		Values: map[string]any{"count": 150, "delay_ms": 3}})
	relay := startRelay(t, serverAddr)
	stream, err := dialTarget(t, relay.Addr()).Watch(ctx, wfID, 0, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stream.Close)
	for i := 0; i < n && stream.Receive(); i++ {
		if _, ok := stream.Event().(*hypergraph.RunEnded); ok {
			t.Fatal("the run ended before the cut: make it longer")
		}
	}
	if stream.Err() != nil {
		t.Fatal(stream.Err())
	}
	return stream, relay
}

// readToError reads the rest of stream and returns its error.
func readToError(stream *hypergraph.Stream) error {
	for stream.Receive() {
	}
	return stream.Err()
}

// requireUnavailableEnd reads stream to its end, which must be an Unavailable
// *Error without a result.
func requireUnavailableEnd(t *testing.T, stream *hypergraph.Stream) {
	t.Helper()
	err := readToError(stream)
	var e *hypergraph.Error
	if !errors.As(err, &e) || e.Code() != codes.Unavailable || stream.Result() != nil {
		t.Fatalf("the Watch ended with %v (result %v), want an Unavailable *Error and no result", err, stream.Result())
	}
}

// With WithoutResume a lost connection ends a Watch with Unavailable.
func TestWatchWithoutResumeEndsAtACut(t *testing.T) {
	t.Parallel()
	stream, relay := watchThroughRelay(t, "watch_without_resume", 10, hypergraph.WithoutResume())
	if relay.cut() == 0 {
		t.Fatal("the relay had no open connection to cut")
	}
	requireUnavailableEnd(t, stream)
	if relay.Accepted() != 1 {
		t.Errorf("the relay accepted %d connections, want 1: the Watch was made again", relay.Accepted())
	}
}

// A Watch whose server stays away gives up (after 6 calls again, about 5 s)
// with the Unavailable *Error of the last one.
func TestWatchGivesUpWhenTheServerStaysAway(t *testing.T) {
	t.Parallel()
	stream, relay := watchThroughRelay(t, "watch_gives_up", 10)
	relay.refuse()
	if relay.cut() == 0 {
		t.Fatal("the relay had no open connection to cut")
	}
	requireUnavailableEnd(t, stream)
}

// A Watch from a seq older than the server keeps (the test server keeps the
// newest 10000 events of a run, its --event-log-length default) starts with
// *EventsLost naming the missing seqs; the next event follows them.
func TestWatchOlderThanKeptStartsWithEventsLost(t *testing.T) {
	t.Parallel()
	client := dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	wfID := uniqueID("events_lost")
	const count = 10100 // one event per token, so more than are kept
	if _, err := client.Run(ctx, "tokens", map[string]any{"count": count}, hypergraph.WithWorkflowID(wfID)); err != nil {
		t.Fatal(err)
	}
	stream, err := client.Watch(ctx, wfID, 5)
	if err != nil {
		t.Fatal(err)
	}
	var events []hypergraph.Event
	for ev, err := range stream.Events() {
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	lost, ok := events[0].(*hypergraph.EventsLost)
	if !ok {
		t.Fatalf("first event %T, want *EventsLost", events[0])
	}
	if lost.FirstSeq != 6 || lost.LastSeq != lost.Seq || lost.LastSeq < lost.FirstSeq || lost.WorkflowID != wfID || lost.RunID == "" {
		t.Fatalf("events lost %+v, want seqs 6..its Seq of the run", lost)
	}
	seq := lost.LastSeq
	for _, ev := range events[1:] {
		step := uint64(1)
		if c, ok := ev.(*hypergraph.Chunk); ok {
			step = uint64(c.Merged)
		}
		if seq += step; ev.Meta().Seq != seq {
			t.Fatalf("event seq %d, want %d: the events after the lost range must follow it", ev.Meta().Seq, seq)
		}
	}
	if stream.Result() == nil || stream.Result().Status != hypergraph.StatusCompleted {
		t.Fatalf("result %+v, want COMPLETED", stream.Result())
	}
}

// startQuietRun starts a detached tokens run whose next token is 10 s away (a
// model thinking) and returns its workflow id and the seq of its first token.
// The run is stopped when the test ends.
func startQuietRun(ctx context.Context, t *testing.T, client *hypergraph.Client, name string) (string, uint64) {
	t.Helper()
	wfID := uniqueID(name)
	started, err := client.Iter(ctx, "tokens", map[string]any{"count": 3, "delay_ms": 10000},
		hypergraph.WithWorkflowID(wfID), hypergraph.WithDetach())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Stop(context.Background(), wfID, nil, 100*time.Millisecond) })
	for ev, err := range started.Events() {
		if err != nil {
			t.Fatal(err)
		}
		if c, ok := ev.(*hypergraph.Chunk); ok {
			return wfID, c.Seq // the first token; the next one is 10 s away. Detached:
			// leaving the loop leaves the run going.
		}
	}
	t.Fatal("the run streamed no token")
	return "", 0
}

// requireStoppedAfter reads a Watch of a quiet run from afterSeq to its end:
// the events follow afterSeq by the seq rule, the first is the StopRequested
// (no token came before the stop) and the run ends STOPPED.
func requireStoppedAfter(t *testing.T, stream *hypergraph.Stream, afterSeq uint64) {
	t.Helper()
	var events []hypergraph.Event
	for ev, err := range stream.Events() {
		if err != nil {
			t.Fatalf("the Watch failed after %d events: %v", len(events), err)
		}
		events = append(events, ev)
	}
	seq := afterSeq
	for _, ev := range events {
		step := uint64(1)
		if c, ok := ev.(*hypergraph.Chunk); ok {
			step = uint64(c.Merged)
		}
		if seq += step; ev.Meta().Seq != seq {
			t.Fatalf("watched event seq %d, want %d: an event was lost or repeated", ev.Meta().Seq, seq)
		}
	}
	if len(events) == 0 {
		t.Fatal("the Watch ended without an event")
	}
	if _, ok := events[0].(*hypergraph.StopRequested); !ok {
		t.Fatalf("first watched event %T, want *StopRequested: an event came before the stop", events[0])
	}
	if res := stream.Result(); res == nil || res.Status != hypergraph.StatusStopped {
		t.Fatalf("result %+v, want STOPPED", res)
	}
}

// Watch returns once the server accepted it, not at the first event: on a
// quiet run (the next token 10 s away) it returns well within 5 s, and the
// stream then reads the stop and the run's STOPPED end.
func TestWatchOfAQuietRunReturnsBeforeItsNextEvent(t *testing.T) {
	t.Parallel()
	client := dial(t)
	runCtx, cancelRun := context.WithTimeout(context.Background(), time.Minute)
	defer cancelRun()
	wfID, afterSeq := startQuietRun(runCtx, t, client, "watch_quiet_returns")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	begin := time.Now()
	stream, err := client.Watch(ctx, wfID, afterSeq)
	if err != nil {
		t.Fatalf("Watch returned %v after %v; want the stream once accepted, before the next token (10 s away)",
			err, time.Since(begin).Round(time.Millisecond))
	}
	defer stream.Close()
	if stream.WorkflowID() != wfID {
		t.Errorf("WorkflowID() = %q before any event, want %q", stream.WorkflowID(), wfID)
	}
	outcome, err := client.Stop(runCtx, wfID, nil, 100*time.Millisecond)
	if err != nil || !outcome.Found {
		t.Fatalf("Stop = %+v, %v; want the run still live", outcome, err)
	}
	requireStoppedAfter(t, stream, afterSeq)
}

// watchQuietRunCutBeforeItsFirstEvent Watches a quiet run (startQuietRun)
// through a relay after its first token, and cuts the relay once Watch has
// returned (the server answered its headers, so the Watch is accepted) but
// before any event. Then it stops the run (grace 100 ms: the node sleeping to
// its next token is cancelled) and returns the stream, the relay and afterSeq.
func watchQuietRunCutBeforeItsFirstEvent(t *testing.T, name string, opts ...hypergraph.WatchOption) (*hypergraph.Stream, *relay, uint64) {
	t.Helper()
	client := dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	wfID, afterSeq := startQuietRun(ctx, t, client, name)
	relay := startRelay(t, serverAddr)
	begin := time.Now()
	stream, err := dialTarget(t, relay.Addr()).Watch(ctx, wfID, afterSeq, opts...)
	if err != nil {
		t.Fatalf("the Watch failed: %v", err)
	}
	t.Cleanup(stream.Close)
	if took := time.Since(begin); took > 5*time.Second {
		t.Fatalf("Watch returned after %v: it waited for the next token rather than for the Watch to be accepted", took)
	}
	if cut := relay.cut(); cut != 1 {
		t.Fatalf("the relay cut %d connections, want the Watch's one", cut)
	}
	outcome, err := client.Stop(ctx, wfID, nil, 100*time.Millisecond)
	if err != nil || !outcome.Found {
		t.Fatalf("Stop = %+v, %v; want the run still live", outcome, err)
	}
	return stream, relay, afterSeq
}

// A Watch cut after it was accepted but before its first event (a quiet run)
// resumes too: the same Watch reads the stop and the run's end.
func TestWatchCutBeforeItsFirstEventResumes(t *testing.T) {
	t.Parallel()
	stream, relay, afterSeq := watchQuietRunCutBeforeItsFirstEvent(t, "watch_quiet")
	requireStoppedAfter(t, stream, afterSeq)
	if relay.Accepted() < 2 {
		t.Errorf("the relay accepted %d connection(s): the Watch did not connect again after the cut", relay.Accepted())
	}
}

// The same cut with WithoutResume ends the Watch's stream with Unavailable at
// its first read, without a call again.
func TestWatchWithoutResumeCutBeforeItsFirstEventIsUnavailable(t *testing.T) {
	t.Parallel()
	stream, relay, _ := watchQuietRunCutBeforeItsFirstEvent(t, "watch_quiet_without_resume", hypergraph.WithoutResume())
	requireUnavailableEnd(t, stream)
	if relay.Accepted() != 1 {
		t.Errorf("the relay accepted %d connections, want 1: the Watch was made again", relay.Accepted())
	}
}

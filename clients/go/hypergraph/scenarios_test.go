package hypergraph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hypergraph-grpc/hypergraph-grpc/clients/go/hypergraph"
	"github.com/hypergraph-grpc/hypergraph-grpc/clients/go/internal/testserver"
)

// The server every live test talks to, started once by TestMain; serverErr
// says why there is none (then the live tests fail, the unit tests still run).
var (
	serverAddr string
	serverErr  error
	root       string
)

func TestMain(m *testing.M) {
	os.Exit(runWithServer(m))
}

func runWithServer(m *testing.M) int {
	var srv *testserver.Server
	root, serverErr = testserver.Root()
	if serverErr == nil {
		var args []string
		if args, serverErr = testserver.ServerArgs(root); serverErr == nil {
			srv, serverErr = testserver.Start(root, args, 60*time.Second)
		}
	}
	if srv != nil {
		serverAddr = srv.Addr
		defer srv.Stop()
	} else {
		fmt.Fprintf(os.Stderr, "no test server, the live tests will fail: %v\n", serverErr)
	}
	code := m.Run()
	if code != 0 && srv != nil {
		fmt.Fprintf(os.Stderr, "--- server stderr (last part) ---\n%s\n", tail(srv.Stderr(), 8000))
	}
	return code
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// dial returns a client of the test server, closed when the test ends.
func dial(t *testing.T) *hypergraph.Client {
	t.Helper()
	return dialTarget(t, serverAddr)
}

// dialTarget returns a client of target (the test server, or a relay to it),
// closed when the test ends.
func dialTarget(t *testing.T, target string) *hypergraph.Client {
	t.Helper()
	if serverErr != nil {
		t.Fatalf("no test server (its error is printed before the tests): %s", strings.SplitN(serverErr.Error(), "\n", 2)[0])
	}
	client, err := hypergraph.Dial(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// scenario is one case of clients/scenarios.json (see clients/README.md).
type scenario struct {
	Name                       string         `json:"name"`
	Kind                       string         `json:"kind"`
	Graph                      string         `json:"graph"`
	Values                     map[string]any `json:"values"`
	DeadlineMs                 int            `json:"deadline_ms"`
	ExpectGraphsInclude        []string       `json:"expect_graphs_include"`
	ExpectText                 *string        `json:"expect_text"`
	ExpectStatus               string         `json:"expect_status"`
	ExpectValues               map[string]any `json:"expect_values"`
	ExpectErrorType            string         `json:"expect_error_type"`
	ExpectErrorMessageContains string         `json:"expect_error_message_contains"`
	StopAfterChunks            int            `json:"stop_after_chunks"`
	StopInfo                   map[string]any `json:"stop_info"`
	ExpectStopFound            *bool          `json:"expect_stop_found"`
	ExpectStopState            string         `json:"expect_stop_state"`
	ExpectStopInfo             map[string]any `json:"expect_stop_info"`
	ExpectPartialOutput        string         `json:"expect_partial_output"`
	CancelAfterChunks          int            `json:"cancel_after_chunks"`
	Probe                      *probe         `json:"probe"`
	ExpectCode                 *codes.Code    `json:"expect_code"`
	ExpectMessageContains      string         `json:"expect_message_contains"`
	ExpectFieldViolation       string         `json:"expect_field_violation"`
	ExpectErrorReason          string         `json:"expect_error_reason"`
	WatchFirstEvents           int            `json:"watch_first_events"`
	CutAfterEvents             int            `json:"cut_after_events"`
}

type probe struct {
	Graph     string         `json:"graph"`
	Values    map[string]any `json:"values"`
	RetryCode codes.Code     `json:"retry_code"`
	WithinMs  int            `json:"within_ms"`
}

func loadScenarios(t *testing.T) []scenario {
	t.Helper()
	if root == "" {
		t.Fatalf("repository root not found: %v", serverErr)
	}
	raw, err := os.ReadFile(filepath.Join(root, "clients", "scenarios.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep 7 and 7.0 apart: ints must stay ints
	var doc struct {
		Cases []scenario `json:"cases"`
	}
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("clients/scenarios.json: %v", err)
	}
	for i := range doc.Cases {
		c := &doc.Cases[i]
		c.Values = nativeMap(c.Values)
		c.ExpectValues = nativeMap(c.ExpectValues)
		c.StopInfo = nativeMap(c.StopInfo)
		c.ExpectStopInfo = nativeMap(c.ExpectStopInfo)
		if c.Probe != nil {
			c.Probe.Values = nativeMap(c.Probe.Values)
		}
	}
	return doc.Cases
}

// nativeMap is native for an optional object of the table (nil when absent).
func nativeMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return native(m).(map[string]any)
}

// native turns decoded JSON into what the client returns: json.Number
// becomes int64 when integral, else float64.
func native(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, item := range x {
			out[k] = native(item)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = native(item)
		}
		return out
	}
	return v
}

func TestScenarios(t *testing.T) {
	cases := loadScenarios(t)
	if len(cases) == 0 {
		t.Fatal("clients/scenarios.json has no cases")
	}
	for _, sc := range cases {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			client := dial(t)
			switch sc.Kind {
			case "list_graphs":
				runListGraphs(t, client, sc)
			case "run":
				runRun(t, client, sc)
			case "iter":
				runIter(t, client, sc)
			case "stop_mid_stream":
				runStopMidStream(t, client, sc)
			case "cancel":
				runCancel(t, client, sc)
			case "watch_resume":
				runWatchResume(t, client, sc)
			case "watch_after_cut":
				runWatchAfterCut(t, client, sc)
			default:
				t.Fatalf("unknown scenario kind %q: teach the Go client's tests about it", sc.Kind)
			}
		})
	}
}

// callContext applies the case's deadline, if any.
func callContext(t *testing.T, sc scenario) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	if sc.DeadlineMs > 0 {
		ctx, cancel = context.WithTimeout(context.Background(), time.Duration(sc.DeadlineMs)*time.Millisecond)
	}
	t.Cleanup(cancel)
	return ctx
}

func runListGraphs(t *testing.T, client *hypergraph.Client, sc scenario) {
	graphs, err := client.ListGraphs(callContext(t, sc))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range graphs {
		names = append(names, g.Name)
	}
	if !slices.IsSorted(names) {
		t.Errorf("graphs are not sorted by name: %v", names)
	}
	for _, want := range sc.ExpectGraphsInclude {
		if !slices.Contains(names, want) {
			t.Errorf("ListGraphs = %v, missing %q", names, want)
		}
	}
}

func runRun(t *testing.T, client *hypergraph.Client, sc scenario) {
	res, err := client.Run(callContext(t, sc), sc.Graph, sc.Values)
	if checkCallError(t, sc, err) {
		return
	}
	checkResult(t, sc, res)
}

func runIter(t *testing.T, client *hypergraph.Client, sc scenario) {
	stream, err := client.Iter(callContext(t, sc), sc.Graph, sc.Values)
	if checkCallError(t, sc, err) {
		return
	}
	var text strings.Builder
	var lastSeq uint64
	for ev, err := range stream.Events() {
		if err != nil {
			checkCallError(t, sc, err)
			return
		}
		// seq is per run: it advances by Merged for a chunk, by 1 for other events.
		step := uint64(1)
		if c, ok := ev.(*hypergraph.Chunk); ok {
			step = uint64(c.Merged)
		}
		if seq := ev.Meta().Seq; seq != lastSeq+step {
			t.Fatalf("event seq %d follows %d: want previous seq + %d (merged), no other gaps", seq, lastSeq, step)
		}
		lastSeq = ev.Meta().Seq
		if c, ok := ev.(*hypergraph.Chunk); ok {
			text.WriteString(c.Text)
		}
	}
	if sc.ExpectCode != nil {
		t.Fatalf("the stream succeeded, want code %v", *sc.ExpectCode)
	}
	if sc.ExpectText != nil && text.String() != *sc.ExpectText {
		t.Errorf("streamed text:\n got  %q\n want %q", text.String(), *sc.ExpectText)
	}
	checkResult(t, sc, stream.Result())
}

// runStopMidStream reads a few chunks, stops the run from a second client and
// checks the run ends STOPPED with the text streamed so far as its output.
func runStopMidStream(t *testing.T, client *hypergraph.Client, sc scenario) {
	ctx := callContext(t, sc)
	wfID := uniqueID(sc.Name)
	stream, err := client.Iter(ctx, sc.Graph, sc.Values, hypergraph.WithWorkflowID(wfID))
	if err != nil {
		t.Fatal(err)
	}
	if stream.WorkflowID() != wfID {
		t.Errorf("stream workflow id %q, want %q", stream.WorkflowID(), wfID)
	}
	var text strings.Builder
	var stop hypergraph.StopOutcome
	chunks := 0
	for ev, err := range stream.Events() {
		if err != nil {
			t.Fatalf("stream failed: %v", err)
		}
		c, ok := ev.(*hypergraph.Chunk)
		if !ok {
			continue
		}
		text.WriteString(c.Text)
		if chunks++; chunks == sc.StopAfterChunks {
			other := dial(t) // a second client, as another service would
			outcome, err := other.Stop(ctx, wfID, sc.StopInfo, 0)
			if err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if sc.ExpectStopFound != nil && outcome.Found != *sc.ExpectStopFound {
				t.Errorf("Stop found = %v, want %v", outcome.Found, *sc.ExpectStopFound)
			}
			if sc.ExpectStopState != "" && outcome.State.String() != sc.ExpectStopState {
				t.Errorf("Stop state = %v, want %v", outcome.State, sc.ExpectStopState)
			}
			stop = outcome
		}
	}
	res := stream.Result()
	if res == nil {
		t.Fatal("the stream ended without a RunEnded result")
	}
	checkResult(t, sc, res)
	if stop.Found && stop.RunID != res.RunID {
		t.Errorf("Stop run id %q, want the stream's run id %q", stop.RunID, res.RunID)
	}
	if sc.ExpectPartialOutput != "" {
		if got := res.Values[sc.ExpectPartialOutput]; got != text.String() {
			t.Errorf("output %q = %q, want the streamed text %q", sc.ExpectPartialOutput, got, text.String())
		}
	}
}

// runWatchResume starts a detached run, watches part of it, drops that Watch and
// resumes with after_seq = the last seq seen: every event once, in order.
func runWatchResume(t *testing.T, client *hypergraph.Client, sc scenario) {
	ctx := callContext(t, sc)
	wfID := startDetached(ctx, t, client, sc)
	var events []hypergraph.Event
	first, err := client.Watch(ctx, wfID, 0)
	if err != nil {
		t.Fatal(err)
	}
	for ev, err := range first.Events() {
		if err != nil {
			t.Fatal(err)
		}
		if events = append(events, ev); len(events) == sc.WatchFirstEvents {
			break
		}
	}
	first.Close()
	rest, err := client.Watch(ctx, wfID, events[len(events)-1].Meta().Seq)
	if err != nil {
		t.Fatal(err)
	}
	for ev, err := range rest.Events() {
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	checkWatched(t, sc, events, rest.Result())
}

// runWatchAfterCut watches a detached run through a relay, cuts the relay's
// connections mid-stream and reads on: the same Watch must resume by itself,
// with every event once, in order.
func runWatchAfterCut(t *testing.T, client *hypergraph.Client, sc scenario) {
	ctx := callContext(t, sc)
	wfID := startDetached(ctx, t, client, sc)
	relay := startRelay(t, serverAddr)
	watcher := dialTarget(t, relay.Addr()) // only through the relay: a cut loses its connection
	stream, err := watcher.Watch(ctx, wfID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var events []hypergraph.Event
	cut := 0
	for ev, err := range stream.Events() {
		if err != nil {
			t.Fatalf("the Watch failed after %d events (%d relay connections cut after %d): %v",
				len(events), cut, sc.CutAfterEvents, err)
		}
		if events = append(events, ev); len(events) == sc.CutAfterEvents {
			if _, ok := ev.(*hypergraph.RunEnded); ok {
				t.Fatal("the run ended before the cut: make the scenario's run longer")
			}
			if cut = relay.cut(); cut == 0 {
				t.Fatal("the relay had no open connection to cut")
			}
		}
	}
	if cut == 0 {
		t.Fatalf("the Watch ended after %d events, before the cut after %d", len(events), sc.CutAfterEvents)
	}
	if relay.Accepted() < 2 {
		t.Errorf("the relay accepted %d connection(s): the Watch did not connect again after the cut", relay.Accepted())
	}
	checkWatched(t, sc, events, stream.Result())
}

// startDetached starts the case's run detached under a fresh workflow id and
// closes its Iter after the first event; it returns the workflow id.
func startDetached(ctx context.Context, t *testing.T, client *hypergraph.Client, sc scenario) string {
	t.Helper()
	wfID := uniqueID(sc.Name)
	started, err := client.Iter(ctx, sc.Graph, sc.Values, hypergraph.WithWorkflowID(wfID), hypergraph.WithDetach())
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range started.Events() {
		if err != nil {
			t.Fatal(err)
		}
		break // the first event is enough: the run is detached
	}
	started.Close()
	return wfID
}

// checkWatched checks the events watched from seq 0: every event once, in
// order, by the seq rule, then the case's text and result.
func checkWatched(t *testing.T, sc scenario, events []hypergraph.Event, res *hypergraph.RunResult) {
	t.Helper()
	var seq uint64
	var text strings.Builder
	for _, ev := range events {
		step := uint64(1)
		if c, ok := ev.(*hypergraph.Chunk); ok {
			step = uint64(c.Merged)
			text.WriteString(c.Text)
		}
		if seq += step; ev.Meta().Seq != seq {
			t.Fatalf("watched event seq %d, want %d: an event was lost or repeated", ev.Meta().Seq, seq)
		}
	}
	if sc.ExpectText != nil && text.String() != *sc.ExpectText {
		t.Errorf("watched text:\n got  %q\n want %q", text.String(), *sc.ExpectText)
	}
	if res == nil {
		t.Fatal("the Watch ended without RunEnded")
	}
	checkResult(t, sc, res)
}

// runCancel cancels the stream's context after a few chunks, then probes the
// same workflow id until the cancelled run has ended on the server.
func runCancel(t *testing.T, client *hypergraph.Client, sc scenario) {
	wfID := uniqueID(sc.Name)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.Iter(ctx, sc.Graph, sc.Values, hypergraph.WithWorkflowID(wfID))
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
			t.Fatal("the run ended before it was cancelled: make the scenario's run longer")
		}
		if _, ok := ev.(*hypergraph.Chunk); ok {
			if chunks++; chunks == sc.CancelAfterChunks {
				cancel()
			}
		}
	}
	if !errors.Is(streamErr, context.Canceled) || status.Code(streamErr) != codes.Canceled {
		t.Fatalf("after cancel the stream ended with %v, want a Canceled error", streamErr)
	}
	if sc.Probe == nil {
		return
	}
	deadline := time.Now().Add(time.Duration(sc.Probe.WithinMs) * time.Millisecond)
	for attempt := 1; ; attempt++ {
		res, err := client.Run(context.Background(), sc.Probe.Graph, sc.Probe.Values, hypergraph.WithWorkflowID(wfID))
		if err == nil {
			if res.Status != hypergraph.StatusCompleted {
				t.Fatalf("probe run ended %v: %v", res.Status, res.Err())
			}
			return
		}
		if status.Code(err) != sc.Probe.RetryCode || time.Now().After(deadline) {
			t.Fatalf("probe attempt %d: %v (the cancelled run %s is still live on the server?)", attempt, err, wfID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkCallError checks err against the case's expected status; it returns
// true when the call was expected to fail (and so the case is done).
func checkCallError(t *testing.T, sc scenario, err error) bool {
	t.Helper()
	if sc.ExpectCode == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return false
	}
	if err == nil {
		t.Fatalf("the call succeeded, want code %v", *sc.ExpectCode)
	}
	var e *hypergraph.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *hypergraph.Error", err, err)
	}
	if e.Code() != *sc.ExpectCode || status.Code(err) != *sc.ExpectCode {
		t.Fatalf("code %v, want %v (%v)", e.Code(), *sc.ExpectCode, err)
	}
	if !strings.Contains(e.Message, sc.ExpectMessageContains) {
		t.Errorf("message %q does not contain %q", e.Message, sc.ExpectMessageContains)
	}
	if sc.ExpectErrorReason != "" && (e.Reason != sc.ExpectErrorReason || e.Domain != hypergraph.ErrorDomain) {
		t.Errorf("ErrorInfo reason %q domain %q, want %q in %q", e.Reason, e.Domain, sc.ExpectErrorReason, hypergraph.ErrorDomain)
	}
	if sc.ExpectFieldViolation != "" {
		if _, ok := e.Violation(sc.ExpectFieldViolation); !ok {
			t.Errorf("no field violation %q in %+v", sc.ExpectFieldViolation, e.FieldViolations)
		}
	}
	return true
}

func checkResult(t *testing.T, sc scenario, res *hypergraph.RunResult) {
	t.Helper()
	if sc.ExpectStatus != "" && res.Status.String() != sc.ExpectStatus {
		t.Errorf("status %v, want %s (error: %v)", res.Status, sc.ExpectStatus, res.Err())
	}
	if sc.ExpectValues != nil && !reflect.DeepEqual(res.Values, sc.ExpectValues) {
		t.Errorf("values:\n got  %#v\n want %#v", res.Values, sc.ExpectValues)
	}
	if sc.ExpectErrorType != "" {
		if res.Error == nil {
			t.Fatalf("no run error, want %s", sc.ExpectErrorType)
		}
		if res.Error.Type != sc.ExpectErrorType || !strings.Contains(res.Error.Message, sc.ExpectErrorMessageContains) {
			t.Errorf("run error %s: %q, want %s containing %q", res.Error.Type, res.Error.Message, sc.ExpectErrorType, sc.ExpectErrorMessageContains)
		}
	}
	if sc.ExpectStopInfo != nil && !reflect.DeepEqual(res.StopInfo, sc.ExpectStopInfo) {
		t.Errorf("stop info %#v, want %#v", res.StopInfo, sc.ExpectStopInfo)
	}
}

func uniqueID(name string) string {
	return fmt.Sprintf("go-%s-%d", strings.ReplaceAll(name, "_", "-"), time.Now().UnixNano())
}

package hypergraph

import (
	"context"
	"fmt"
	"iter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	hv1 "github.com/hypergraph-grpc/hypergraph-grpc/clients/go/gen/hypergraph/v1"
)

// Client calls a hypergraph-grpc server. It is safe for concurrent use; make
// one per server and share it.
type Client struct {
	conn *grpc.ClientConn // nil when made by New
	stub hv1.RunnerServiceClient
}

// Dial makes a client for target ("host:port" or any gRPC target string).
// The connection is plaintext unless WithTLS or WithTransportCredentials is given. ctx
// bounds the wait of WithBlock; without it Dial does not block.
func Dial(ctx context.Context, target string, opts ...DialOption) (*Client, error) {
	cfg := dialConfig{creds: insecure.NewCredentials()}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	grpcOpts := append([]grpc.DialOption{grpc.WithTransportCredentials(cfg.creds)}, cfg.grpcOpts...)
	conn, err := grpc.NewClient(target, grpcOpts...)
	if err != nil {
		return nil, fmt.Errorf("hypergraph: cannot dial %q: %w", target, err)
	}
	if cfg.block {
		if err := waitReady(ctx, conn); err != nil {
			conn.Close()
			return nil, fmt.Errorf("hypergraph: %s not ready: %w", target, err)
		}
	}
	return &Client{conn: conn, stub: hv1.NewRunnerServiceClient(conn)}, nil
}

func waitReady(ctx context.Context, conn *grpc.ClientConn) error {
	conn.Connect()
	for {
		s := conn.GetState()
		if s == connectivity.Ready {
			return nil
		}
		if !conn.WaitForStateChange(ctx, s) {
			return ctx.Err()
		}
	}
}

// New makes a client over a connection the caller owns (Close does not close it).
func New(cc grpc.ClientConnInterface) *Client {
	return &Client{stub: hv1.NewRunnerServiceClient(cc)}
}

// Close closes the connection made by Dial.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// Stub returns the generated stub, for what the wrapper does not cover.
func (c *Client) Stub() hv1.RunnerServiceClient { return c.stub }

// ListGraphs returns every registered graph, sorted by name.
func (c *Client) ListGraphs(ctx context.Context) ([]GraphInfo, error) {
	resp, err := c.stub.ListGraphs(ctx, &hv1.ListGraphsRequest{})
	if err != nil {
		return nil, wrapError(err)
	}
	graphs := make([]GraphInfo, 0, len(resp.GetGraphs()))
	for _, g := range resp.GetGraphs() {
		graphs = append(graphs, graphFromProto(g))
	}
	return graphs, nil
}

// ListRuns returns the live runs of the deployment (every replica of a
// cluster), oldest first; graph "" means every graph. It follows every page.
func (c *Client) ListRuns(ctx context.Context, graph string) ([]RunSummary, error) {
	var runs []RunSummary
	token := ""
	for {
		resp, err := c.stub.ListRuns(ctx, &hv1.ListRunsRequest{Graph: graph, PageToken: token})
		if err != nil {
			return nil, wrapError(err)
		}
		for _, r := range resp.GetRuns() {
			runs = append(runs, runSummaryFromProto(r))
		}
		if token = resp.GetNextPageToken(); token == "" {
			return runs, nil
		}
	}
}

// Run starts a workflow of graph with values as inputs, waits for it to end
// and returns its result. A node that raises is not an error: the result has
// StatusFailed and Error set. err is an *Error for a rejected call (unknown
// graph, bad input, deadline, ...). The run stops when ctx ends.
func (c *Client) Run(ctx context.Context, graph string, values map[string]any, opts ...RunOption) (*RunResult, error) {
	pv, err := toStruct(values, "values.")
	if err != nil {
		return nil, err
	}
	req := &hv1.RunRequest{Graph: graph, Values: pv}
	for _, o := range opts {
		o.applyRun(req)
	}
	resp, err := c.stub.Run(ctx, req)
	if err != nil {
		return nil, wrapError(err)
	}
	return runResultFromProto(resp.GetResult()), nil
}

// Iter starts a workflow and returns the stream of its events, token by
// token, ending with *RunEnded. It waits for the first event, so a rejected
// call (unknown graph, bad input) is reported here as an *Error.
// Cancelling ctx (or Stream.Close) cancels the stream, which stops the run on
// the server unless WithDetach was given.
func (c *Client) Iter(ctx context.Context, graph string, values map[string]any, opts ...IterOption) (*Stream, error) {
	pv, err := toStruct(values, "values.")
	if err != nil {
		return nil, err
	}
	req := &hv1.IterRequest{Graph: graph, Values: pv}
	for _, o := range opts {
		o.applyIter(req)
	}
	ctx, cancel := context.WithCancel(ctx)
	recv, err := c.stub.Iter(ctx, req)
	return openStream(newStream(ctx, cancel, 0, nil), recv, err)
}

// Watch attaches to a workflow by id and streams the events of its latest run
// with seq greater than afterSeq: those the server still keeps, then the new
// ones until RunEnded. It returns as soon as the server has accepted the
// Watch (its response headers), without waiting for an event, which on a
// quiet run (a model thinking) may be minutes away; a rejected call (an
// unknown id is codes.NotFound) fails here with an *Error. Stream.WorkflowID
// is workflowID from the start.
//
// The stream resumes by itself: when the call fails with codes.Unavailable
// (connection lost or reset, a draining replica's GOAWAY) before RunEnded, it
// waits (0.1 s, doubling per failure in a row, at most 2 s) and calls Watch
// again on the same client after the Seq of the last event it delivered, so
// the same Stream goes on without losing or repeating an event. After 6 calls
// in a row that fail (one that delivers an event resets the count) it ends
// with the last *Error. Other errors end it at once; so does ctx, also during
// a wait. When the server no longer keeps the events after that Seq, the new
// call's first event is an *EventsLost naming the missing seqs (as is the
// first event of any Watch whose afterSeq is older than the events the server
// keeps). A call that fails with codes.Unavailable before the server
// accepted it is made again the same way, within Watch. WithoutResume turns
// this off.
func (c *Client) Watch(ctx context.Context, workflowID string, afterSeq uint64, opts ...WatchOption) (*Stream, error) {
	call := watchCall{req: &hv1.WatchRequest{WorkflowId: workflowID, AfterSeq: afterSeq}}
	for _, o := range opts {
		o.applyWatch(&call)
	}
	var reopen reopenFunc
	if !call.noResume {
		reopen = func(ctx context.Context, after uint64) (grpc.ServerStreamingClient[hv1.Event], error) {
			req := &hv1.WatchRequest{WorkflowId: workflowID, AfterSeq: after, Options: call.req.Options}
			return c.stub.Watch(ctx, req)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	s := newStream(ctx, cancel, afterSeq, reopen)
	s.workflowID = workflowID
	recv, err := c.stub.Watch(ctx, call.req)
	return openWatch(s, recv, err)
}

// Text starts a workflow and yields the text of its chunks as they arrive;
// see Stream.Text. It asks for the text view (WithTextView), which costs the
// server less per stream. Leaving the loop early cancels the stream (and the run).
func (c *Client) Text(ctx context.Context, graph string, values map[string]any, opts ...IterOption) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		opts = append([]IterOption{WithTextView()}, opts...)
		stream, err := c.Iter(ctx, graph, values, opts...)
		if err != nil {
			yield("", err)
			return
		}
		defer stream.Close()
		for text, err := range stream.Text() {
			if !yield(text, err) {
				return
			}
		}
	}
}

// Stop asks a live workflow to stop cooperatively, recording info as the
// run's stop_info. After grace (when > 0) nodes still running are cancelled
// and the run ends forced. The outcome's Found is false for an unknown or
// ended workflow. Stop is idempotent.
func (c *Client) Stop(ctx context.Context, workflowID string, info map[string]any, grace time.Duration) (StopOutcome, error) {
	req := &hv1.StopRequest{WorkflowId: workflowID}
	if info != nil {
		pv, err := toStruct(info, "info.")
		if err != nil {
			return StopOutcome{}, err
		}
		req.Info = pv
	}
	if grace > 0 {
		req.Grace = durationpb.New(grace)
	}
	resp, err := c.stub.Stop(ctx, req)
	if err != nil {
		return StopOutcome{}, wrapError(err)
	}
	return stopOutcomeFromProto(resp), nil
}

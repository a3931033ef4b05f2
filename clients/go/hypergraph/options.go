package hypergraph

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	hv1 "github.com/hypergraph-grpc/hypergraph-grpc/clients/go/gen/hypergraph/v1"
)

// DialOption configures Dial.
type DialOption func(*dialConfig)

type dialConfig struct {
	grpcOpts []grpc.DialOption
	creds    credentials.TransportCredentials
	err      error // from an option that could not be built (WithTLS)
	block    bool
}

// WithTransportCredentials sets TLS (or other) credentials. Without it (or
// WithTLS) the connection is plaintext, as the server's default listener is.
func WithTransportCredentials(creds credentials.TransportCredentials) DialOption {
	return func(c *dialConfig) { c.creds, c.err = creds, nil }
}

// WithGRPCOptions passes options through to grpc.NewClient (interceptors,
// keepalive, service config, ...).
func WithGRPCOptions(opts ...grpc.DialOption) DialOption {
	return func(c *dialConfig) { c.grpcOpts = append(c.grpcOpts, opts...) }
}

// WithBlock makes Dial wait until the connection is ready, or fail when the
// context of Dial ends first. Without it Dial connects lazily, and the first
// call reports an unreachable server (codes.Unavailable).
func WithBlock() DialOption { return func(c *dialConfig) { c.block = true } }

// RunOption configures Run.
type RunOption interface{ applyRun(*hv1.RunRequest) }

// IterOption configures Iter (and Text).
type IterOption interface{ applyIter(*hv1.IterRequest) }

// WatchOption configures Watch.
type WatchOption interface{ applyWatch(*watchCall) }

// watchCall is what WatchOptions set: the request and the client's own settings.
type watchCall struct {
	req      *hv1.WatchRequest
	noResume bool
}

// watchOnlyOption is an option of Watch alone.
type watchOnlyOption func(*watchCall)

func (o watchOnlyOption) applyWatch(c *watchCall) { o(c) }

// WithoutResume turns off Watch's own resume: the stream then ends with the
// codes.Unavailable *Error of a lost connection, as other calls do, and the
// caller may call Watch again with the last Seq it read.
func WithoutResume() WatchOption {
	return watchOnlyOption(func(c *watchCall) { c.noResume = true })
}

// RequestOption is an option of the run request itself; it is both a
// RunOption and an IterOption.
type RequestOption struct{ apply func(*requestFields) }

type requestFields struct {
	workflowID    string
	selects       []string
	maxIterations uint32
}

func (o RequestOption) applyRun(r *hv1.RunRequest) {
	f := requestFields{r.WorkflowId, r.Select, r.MaxIterations}
	o.apply(&f)
	r.WorkflowId, r.Select, r.MaxIterations = f.workflowID, f.selects, f.maxIterations
}

func (o RequestOption) applyIter(r *hv1.IterRequest) {
	f := requestFields{r.WorkflowId, r.Select, r.MaxIterations}
	o.apply(&f)
	r.WorkflowId, r.Select, r.MaxIterations = f.workflowID, f.selects, f.maxIterations
}

// WithWorkflowID sets the workflow id (1-128 characters of [A-Za-z0-9._:-]);
// the server makes one when it is not set. A known id lets another client
// Stop the run.
func WithWorkflowID(id string) RequestOption {
	return RequestOption{func(f *requestFields) { f.workflowID = id }}
}

// WithSelect returns only the named outputs in the RunResult.
func WithSelect(outputs ...string) RequestOption {
	return RequestOption{func(f *requestFields) { f.selects = append(f.selects, outputs...) }}
}

// WithMaxIterations caps how many times any one node may run (0: server default).
func WithMaxIterations(n uint32) RequestOption {
	return RequestOption{func(f *requestFields) { f.maxIterations = n }}
}

// StreamOption tunes how events are delivered; it is both an IterOption and
// a WatchOption.
type StreamOption struct{ apply func(*hv1.StreamOptions) }

func (o StreamOption) applyIter(r *hv1.IterRequest) {
	if r.Options == nil {
		r.Options = &hv1.StreamOptions{}
	}
	o.apply(r.Options)
}

func (o StreamOption) applyWatch(c *watchCall) {
	if c.req.Options == nil {
		c.req.Options = &hv1.StreamOptions{}
	}
	o.apply(c.req.Options)
}

// WithDetach keeps the run going when the stream ends early (cancelled
// context, Close, disconnect, deadline). By default that stops the run.
func WithDetach() StreamOption {
	return StreamOption{func(o *hv1.StreamOptions) { o.Detach = true }}
}

// WithDisableMerge asks for one message per ctx.stream() call, never merging
// queued text chunks (for measurement or strict per-call framing).
func WithDisableMerge() StreamOption {
	return StreamOption{func(o *hv1.StreamOptions) { o.DisableMerge = true }}
}

// WithTextView asks for the text view (EVENT_VIEW_TEXT): RunStarted, chunks,
// node failures, stops and RunEnded, without the node lifecycle
// (SuperstepStarted, NodeStarted, NodeEnded, RouteDecision). Seq still numbers
// every event of the run, so it skips the ones left out. Client.Text asks for
// it by itself. Iter only: Watch sends every event and refuses it.
func WithTextView() StreamOption {
	return StreamOption{func(o *hv1.StreamOptions) { o.View = hv1.EventView_EVENT_VIEW_TEXT }}
}

// WithMaxQueuedEvents sets how many events may wait for this stream before
// text chunks merge (0: server default).
func WithMaxQueuedEvents(n uint32) StreamOption {
	return StreamOption{func(o *hv1.StreamOptions) { o.MaxQueuedEvents = n }}
}

// WithMaxChunkBytes caps the text bytes of one merged chunk (0: server default).
func WithMaxChunkBytes(n uint32) StreamOption {
	return StreamOption{func(o *hv1.StreamOptions) { o.MaxChunkBytes = n }}
}

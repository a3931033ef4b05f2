package hypergraph

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hv1 "github.com/hypergraph-grpc/hypergraph-grpc/clients/go/gen/hypergraph/v1"
)

// ErrNoRunEnded reports a stream that ended without its RunEnded event.
var ErrNoRunEnded = errors.New("hypergraph: the event stream ended before RunEnded")

// Watch resumes: how many times in a row it calls Watch again after
// codes.Unavailable, and the wait before each call (doubling up to the most).
const (
	resumeAttempts  = 6
	resumeFirstWait = 100 * time.Millisecond
	resumeMaxWait   = 2 * time.Second
)

// reopenFunc calls Watch again for the events after afterSeq.
type reopenFunc func(ctx context.Context, afterSeq uint64) (grpc.ServerStreamingClient[hv1.Event], error)

// Stream is the event stream of one run (from Iter or Watch). It is not safe
// for concurrent use: read it from one goroutine. Two ways to read it:
//
//	for ev, err := range stream.Events() { ... }   // Go 1.23 iterator
//
//	for stream.Receive() { ev := stream.Event(); ... }  // connect-go style
//	if err := stream.Err(); err != nil { ... }
//
// After the last event, Result returns the run's result. A Watch stream
// resumes by itself after a lost connection (see Client.Watch).
type Stream struct {
	recv       grpc.ServerStreamingClient[hv1.Event]
	ctx        context.Context // the context of every call of the stream
	cancel     context.CancelFunc
	pending    *hv1.Event // the first event, read by Iter to surface rejections (Watch: nil)
	event      Event
	err        error
	result     *RunResult
	workflowID string
	done       bool

	// Watch resumes: reopen (nil: never) calls Watch again after lastSeq, the
	// seq of the last event delivered (or the Watch's afterSeq before any),
	// each time after a wait timed by after (nil: time.After; tests pass their own).
	reopen        reopenFunc
	lastSeq       uint64
	failedResumes int // calls in a row that failed with codes.Unavailable
	after         func(time.Duration) <-chan time.Time
}

// newStream is a stream before its first call, whose calls use ctx; cancel
// ends them. A Watch stream passes its afterSeq and reopen (nil: no resume).
func newStream(ctx context.Context, cancel context.CancelFunc, afterSeq uint64, reopen reopenFunc) *Stream {
	return &Stream{ctx: ctx, cancel: cancel, lastSeq: afterSeq, reopen: reopen}
}

// openStream (Iter) reads the first event so that a rejected call fails at
// once. recv and err are the call's; s holds its context, cancel and resume settings.
func openStream(s *Stream, recv grpc.ServerStreamingClient[hv1.Event], err error) (*Stream, error) {
	s.recv = recv
	first, err := s.next(err)
	if err != nil {
		return nil, s.openFailed(err)
	}
	s.pending, s.workflowID = first, first.GetWorkflowId()
	return s, nil
}

// openFailed ends a stream whose call failed before it could be returned: the
// error its opener returns (io.EOF, a call that ended OK without events, is
// ErrNoRunEnded).
func (s *Stream) openFailed(err error) error {
	s.cancel()
	if errors.Is(err, io.EOF) {
		return ErrNoRunEnded
	}
	return wrapError(err)
}

// openWatch returns the Watch stream s once the server has accepted the call,
// before any event (on a quiet run the first may be minutes away), so that a
// rejected call fails at once. recv and err are the call's. The server sends
// a Watch's response headers as soon as it accepts it; a rejection is a
// trailers-only response, without headers. A call that fails before its
// headers goes through the resume rule (callAgain: codes.Unavailable is
// called again); any other error is returned as an *Error.
func openWatch(s *Stream, recv grpc.ServerStreamingClient[hv1.Event], err error) (*Stream, error) {
	s.recv = recv
	for {
		if err == nil {
			var accepted bool
			if accepted, err = s.accepted(); accepted {
				return s, nil
			}
		}
		var again bool
		if again, err = s.callAgain(err); !again {
			return nil, s.openFailed(err)
		}
	}
}

// accepted waits for the response headers of the current call: true once they
// came. Else the call ended without them, and err is its status (io.EOF for
// an OK one), which grpc-go gives by Recv rather than by Header.
func (s *Stream) accepted() (bool, error) {
	md, err := s.recv.Header()
	if err == nil && md != nil {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	msg, err := s.recv.Recv()
	if err == nil { // an event cannot come without headers; kept rather than lost if it does
		s.pending = msg
		return true, nil
	}
	return false, err
}

// next returns the next message of the stream. A non-nil err says the current
// call already failed with it. A Watch call that fails with codes.Unavailable
// is made again after the last seq delivered, after a wait, a bounded number
// of times in a row; any other error (io.EOF at the end) is returned as is.
func (s *Stream) next(err error) (*hv1.Event, error) {
	for {
		if err == nil {
			msg, recvErr := s.recv.Recv()
			if recvErr == nil {
				s.failedResumes = 0
				return msg, nil
			}
			err = recvErr
		}
		var again bool
		if again, err = s.callAgain(err); !again {
			return nil, err
		}
	}
}

// callAgain applies the resume rule to err, the failure of the current call:
// when it allows, it waits and calls Watch again after lastSeq, and returns
// true with that call's error (nil when made). Else it returns false and the
// error to end with (err, or the context's when it ends during the wait).
func (s *Stream) callAgain(err error) (bool, error) {
	wait, ok := s.resumeWait(err)
	if !ok {
		return false, err
	}
	if err := s.sleep(wait); err != nil {
		return false, err
	}
	s.recv, err = s.reopen(s.ctx, s.lastSeq)
	return true, err
}

// resumeWait is how long to wait before calling Watch again after err; false
// to give up: not a resuming Watch, RunEnded already read, the context ended,
// not codes.Unavailable, or too many failures in a row.
func (s *Stream) resumeWait(err error) (time.Duration, bool) {
	if s.reopen == nil || s.result != nil || s.ctx.Err() != nil ||
		status.Code(err) != codes.Unavailable || s.failedResumes >= resumeAttempts {
		return 0, false
	}
	wait := min(resumeFirstWait<<s.failedResumes, resumeMaxWait)
	s.failedResumes++
	return wait, true
}

// sleep waits for d, or returns the status error of the stream's context when it ends first.
func (s *Stream) sleep(d time.Duration) error {
	after := time.After // its timer is collected once unreferenced (Go 1.23+): no Stop needed
	if s.after != nil {
		after = s.after
	}
	select {
	case <-s.ctx.Done():
		return status.FromContextError(s.ctx.Err()).Err()
	case <-after(d):
		return nil
	}
}

// Receive advances to the next event, which Event then returns. It returns
// false at the end of the stream or on an error (see Err).
func (s *Stream) Receive() bool {
	if s.done {
		return false
	}
	msg := s.pending
	s.pending = nil
	if msg == nil {
		var err error
		if msg, err = s.next(nil); err != nil {
			s.finish(err)
			return false
		}
	}
	s.lastSeq = msg.GetSeq()
	s.event = eventFromProto(msg)
	if end, ok := s.event.(*RunEnded); ok {
		s.result = end.Result
	}
	return true
}

func (s *Stream) finish(err error) {
	s.done, s.event = true, nil
	s.cancel()
	switch {
	case errors.Is(err, io.EOF) && s.result == nil:
		s.err = ErrNoRunEnded
	case !errors.Is(err, io.EOF):
		s.err = wrapError(err)
	}
}

// Event returns the event read by the last successful Receive.
func (s *Stream) Event() Event { return s.event }

// Err returns the error that ended the stream, nil after a normal end. A
// cancelled context gives an *Error with codes.Canceled (errors.Is it
// context.Canceled); a closed stream gives nil.
func (s *Stream) Err() error { return s.err }

// Result returns the run's result once RunEnded has been read, else nil.
func (s *Stream) Result() *RunResult { return s.result }

// WorkflowID is the id of the streamed workflow: for Iter from its first
// event, for Watch the id it was given.
func (s *Stream) WorkflowID() string { return s.workflowID }

// Close cancels the stream; the server then stops the run unless it was
// started with WithDetach. Closing an ended stream does nothing.
func (s *Stream) Close() {
	if !s.done {
		s.done, s.event = true, nil
		s.cancel()
	}
}

// Events yields each event, then a final (nil, err) if the stream failed.
// Leaving the loop early closes the stream.
func (s *Stream) Events() iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		for s.Receive() {
			if !yield(s.event, nil) {
				s.Close()
				return
			}
		}
		if s.err != nil {
			yield(nil, s.err)
		}
	}
}

// Text yields the text of every text chunk, in order. When the run fails it
// ends by yielding the run's *RunError; a stopped run ends without error
// (check Result().Status). Leaving the loop early closes the stream.
func (s *Stream) Text() iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for ev, err := range s.Events() {
			if err != nil {
				yield("", err)
				return
			}
			if c, ok := ev.(*Chunk); ok && c.Kind == ChunkText {
				if !yield(c.Text, nil) {
					return
				}
			}
		}
		if err := s.result.Err(); err != nil {
			yield("", err)
		}
	}
}

package hypergraph

import (
	"context"
	"errors"
	"io"
	"iter"

	"google.golang.org/grpc"

	hv1 "github.com/hypergraph-grpc/hypergraph-grpc/clients/go/gen/hypergraph/v1"
)

// ErrNoRunEnded reports a stream that ended without its RunEnded event.
var ErrNoRunEnded = errors.New("hypergraph: the event stream ended before RunEnded")

// Stream is the event stream of one run (from Iter or Watch). It is not safe
// for concurrent use: read it from one goroutine. Two ways to read it:
//
//	for ev, err := range stream.Events() { ... }   // Go 1.23 iterator
//
//	for stream.Receive() { ev := stream.Event(); ... }  // connect-go style
//	if err := stream.Err(); err != nil { ... }
//
// After the last event, Result returns the run's result.
type Stream struct {
	recv       grpc.ServerStreamingClient[hv1.Event]
	cancel     context.CancelFunc
	pending    *hv1.Event // the first event, read by Iter to surface rejections
	event      Event
	err        error
	result     *RunResult
	workflowID string
	done       bool
}

// openStream reads the first event so that a rejected call fails at once.
func openStream(recv grpc.ServerStreamingClient[hv1.Event], err error, cancel context.CancelFunc) (*Stream, error) {
	if err != nil {
		cancel()
		return nil, wrapError(err)
	}
	first, err := recv.Recv()
	if err != nil {
		cancel()
		if errors.Is(err, io.EOF) {
			return nil, ErrNoRunEnded
		}
		return nil, wrapError(err)
	}
	return &Stream{recv: recv, cancel: cancel, pending: first, workflowID: first.GetWorkflowId()}, nil
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
		if msg, err = s.recv.Recv(); err != nil {
			s.finish(err)
			return false
		}
	}
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

// WorkflowID is the id of the streamed workflow (known from the first event).
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

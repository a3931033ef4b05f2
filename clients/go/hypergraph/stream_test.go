package hypergraph

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hv1 "github.com/hypergraph-grpc/hypergraph-grpc/clients/go/gen/hypergraph/v1"
)

// Unit tests of Watch's resume, over fake calls (no server).

// fakeCall yields its messages, then err (io.EOF when nil).
type fakeCall struct {
	grpc.ClientStream
	msgs []*hv1.Event
	err  error
}

func (f *fakeCall) Recv() (*hv1.Event, error) {
	if len(f.msgs) == 0 {
		if f.err == nil {
			return nil, io.EOF
		}
		return nil, f.err
	}
	msg := f.msgs[0]
	f.msgs = f.msgs[1:]
	return msg, nil
}

var errLost = status.Error(codes.Unavailable, "connection lost")

func chunk(seq uint64) *hv1.Event {
	return &hv1.Event{WorkflowId: "wf", Seq: seq, Kind: &hv1.Event_StreamingChunk{
		StreamingChunk: &hv1.StreamingChunk{Payload: &hv1.StreamingChunk_Text{Text: "t"}, Merged: 1}}}
}

func runEnded(seq uint64) *hv1.Event {
	return &hv1.Event{WorkflowId: "wf", Seq: seq, Kind: &hv1.Event_RunEnded{
		RunEnded: &hv1.RunEnded{Result: &hv1.RunResult{Status: hv1.RunStatus_RUN_STATUS_COMPLETED}}}}
}

// watchStream opens a resuming Watch stream over first; reopen gives the
// later calls and records the after_seq of each.
func watchStream(t *testing.T, afterSeq uint64, first *fakeCall,
	reopen func(after uint64) (*fakeCall, error)) (*Stream, *[]uint64, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var afters []uint64
	s := newStream(ctx, cancel, afterSeq, func(_ context.Context, after uint64) (grpc.ServerStreamingClient[hv1.Event], error) {
		afters = append(afters, after)
		call, err := reopen(after)
		if err != nil {
			return nil, err
		}
		return call, nil
	})
	s, err := openStream(s, first, nil)
	return s, &afters, err
}

func seqs(t *testing.T, s *Stream) []uint64 {
	t.Helper()
	var got []uint64
	for ev, err := range s.Events() {
		if err != nil {
			t.Fatalf("after seqs %v: %v", got, err)
		}
		got = append(got, ev.Meta().Seq)
	}
	return got
}

func TestResumeWaitsDoubleUpToTheMostThenGiveUp(t *testing.T) {
	s := &Stream{ctx: context.Background(), reopen: func(context.Context, uint64) (grpc.ServerStreamingClient[hv1.Event], error) {
		return nil, errLost
	}}
	var waits []time.Duration
	for {
		wait, ok := s.resumeWait(errLost)
		if !ok {
			break
		}
		waits = append(waits, wait)
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 2000}
	if len(waits) != len(want) {
		t.Fatalf("waits %v, want %v ms", waits, want)
	}
	for i := range want {
		if waits[i] != want[i]*time.Millisecond {
			t.Fatalf("waits %v, want %v ms", waits, want)
		}
	}
}

func TestResumeOnlyOnUnavailableBeforeRunEnded(t *testing.T) {
	reopen := func(context.Context, uint64) (grpc.ServerStreamingClient[hv1.Event], error) { return nil, errLost }
	ended, cancelled := context.WithCancel(context.Background())
	cancelled()
	for name, s := range map[string]*Stream{
		"no reopen (Iter, WithoutResume)": {ctx: context.Background()},
		"after RunEnded":                  {ctx: context.Background(), reopen: reopen, result: &RunResult{}},
		"context ended":                   {ctx: ended, reopen: reopen},
	} {
		if _, ok := s.resumeWait(errLost); ok {
			t.Errorf("%s: resumes after Unavailable", name)
		}
	}
	s := &Stream{ctx: context.Background(), reopen: reopen}
	for _, err := range []error{io.EOF, status.Error(codes.Internal, "x"), status.Error(codes.Canceled, "x"),
		status.Error(codes.NotFound, "x"), errors.New("not a status")} {
		if _, ok := s.resumeWait(err); ok {
			t.Errorf("resumes after %v", err)
		}
	}
}

func TestResumeContinuesAfterTheLastDeliveredSeq(t *testing.T) {
	first := &fakeCall{msgs: []*hv1.Event{chunk(5), chunk(6), chunk(7)}, err: errLost}
	s, afters, err := watchStream(t, 4, first, func(after uint64) (*fakeCall, error) {
		var msgs []*hv1.Event
		for seq := after + 1; seq < 10; seq++ {
			msgs = append(msgs, chunk(seq))
		}
		return &fakeCall{msgs: append(msgs, runEnded(10))}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := seqs(t, s)
	if want := []uint64{5, 6, 7, 8, 9, 10}; !slices.Equal(got, want) {
		t.Fatalf("seqs %v, want %v", got, want)
	}
	if !slices.Equal(*afters, []uint64{7}) {
		t.Fatalf("Watch called again with after_seq %v, want [7]", *afters)
	}
	if s.Result() == nil || s.Err() != nil {
		t.Fatalf("result %v err %v, want the RunEnded result and no error", s.Result(), s.Err())
	}
}

func TestResumeBeforeAnyEventUsesTheWatchAfterSeq(t *testing.T) {
	failing := &fakeCall{err: errLost}
	s, afters, err := watchStream(t, 41, failing, func(after uint64) (*fakeCall, error) {
		return &fakeCall{msgs: []*hv1.Event{runEnded(after + 1)}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(t, s); !slices.Equal(got, []uint64{42}) || !slices.Equal(*afters, []uint64{41}) {
		t.Fatalf("seqs %v after_seqs %v, want [42] after [41]", got, *afters)
	}
}

// An attempt that delivers an event resets the count: a stream cut after
// every event still reads to the end.
func TestResumeCountResetsWhenAnEventArrives(t *testing.T) {
	t.Parallel()
	first := &fakeCall{msgs: []*hv1.Event{chunk(1)}, err: errLost}
	s, afters, err := watchStream(t, 0, first, func(after uint64) (*fakeCall, error) {
		if after == 9 {
			return &fakeCall{msgs: []*hv1.Event{runEnded(10)}}, nil
		}
		return &fakeCall{msgs: []*hv1.Event{chunk(after + 1)}, err: errLost}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(t, s); len(got) != 10 || got[9] != 10 {
		t.Fatalf("seqs %v, want 1..10", got)
	}
	if len(*afters) != 9 {
		t.Fatalf("%d calls again, want 9", len(*afters))
	}
}

func TestResumeGivesUpAfterSixFailedCalls(t *testing.T) {
	t.Parallel()
	first := &fakeCall{msgs: []*hv1.Event{chunk(1)}, err: errLost}
	calls := 0
	s, afters, err := watchStream(t, 0, first, func(uint64) (*fakeCall, error) {
		if calls++; calls%2 == 0 {
			return nil, status.Error(codes.Unavailable, "refused") // the call itself fails
		}
		return &fakeCall{err: status.Error(codes.Unavailable, "reset")}, nil // its first read fails
	})
	if err != nil {
		t.Fatal(err)
	}
	var events int
	var last error
	for _, err := range s.Events() {
		if err != nil {
			last = err
		} else {
			events++
		}
	}
	var e *Error
	if !errors.As(last, &e) || e.Code() != codes.Unavailable || e.Message != "refused" {
		t.Fatalf("error %v (%T), want the last Unavailable *Error", last, last)
	}
	if events != 1 || len(*afters) != resumeAttempts {
		t.Fatalf("%d events, %d calls again; want 1 and %d", events, len(*afters), resumeAttempts)
	}
	for _, after := range *afters {
		if after != 1 {
			t.Fatalf("after_seqs %v, want every one 1", *afters)
		}
	}
}

func TestResumeNotOnOtherErrors(t *testing.T) {
	first := &fakeCall{msgs: []*hv1.Event{chunk(1)}, err: status.Error(codes.Internal, "boom")}
	s, afters, err := watchStream(t, 0, first, func(uint64) (*fakeCall, error) {
		t.Fatal("Watch called again after Internal")
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for range s.Events() {
	}
	if status.Code(s.Err()) != codes.Internal || len(*afters) != 0 {
		t.Fatalf("err %v after %d calls again, want Internal and none", s.Err(), len(*afters))
	}
}

// The caller's context ends a resume wait at once (the test would hang on a
// wait that ignored it) and the stream ends with codes.Canceled.
func TestContextEndsAResumeWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Stream{ctx: ctx, cancel: cancel}
	go func() {
		time.Sleep(10 * time.Millisecond)
		cancel()
	}()
	err := s.sleep(time.Hour)
	if status.Code(err) != codes.Canceled || !errors.Is(wrapError(err), context.Canceled) {
		t.Fatalf("wait ended with %v, want Canceled", err)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer dcancel()
	s = &Stream{ctx: dctx, cancel: dcancel}
	if err := s.sleep(time.Hour); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("wait ended with %v, want DeadlineExceeded", err)
	}
}

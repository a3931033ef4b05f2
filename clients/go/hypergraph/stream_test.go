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
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	hv1 "github.com/hypergraph-grpc/hypergraph-grpc/clients/go/gen/hypergraph/v1"
)

// Unit tests of Watch's resume, over fake calls (no server).

// fakeCall yields its messages, then err (io.EOF when nil). Its headers come
// at once (an accepted Watch) unless noHeaders (the call ended without them,
// as a rejection does: Recv gives its err) or headerErr is set. recvs counts
// the Recv calls.
type fakeCall struct {
	grpc.ClientStream
	msgs      []*hv1.Event
	err       error
	noHeaders bool
	headerErr error
	recvs     int
}

func (f *fakeCall) Header() (metadata.MD, error) {
	if f.noHeaders || f.headerErr != nil {
		return nil, f.headerErr
	}
	return metadata.MD{}, nil
}

func (f *fakeCall) Recv() (*hv1.Event, error) {
	f.recvs++
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

// resumes records what a resuming stream did: the wait before each call
// again and the after_seq it called with.
type resumes struct {
	waits  []time.Duration
	afters []uint64
}

// watchStream opens a resuming Watch stream over first as Client.Watch does;
// reopen gives the later calls. Its waits take no time: they are only recorded.
func watchStream(t *testing.T, afterSeq uint64, first *fakeCall,
	reopen func(after uint64) (*fakeCall, error)) (*Stream, *resumes, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := &resumes{}
	s := newStream(ctx, cancel, afterSeq, func(_ context.Context, after uint64) (grpc.ServerStreamingClient[hv1.Event], error) {
		r.afters = append(r.afters, after)
		call, err := reopen(after)
		if err != nil {
			return nil, err
		}
		return call, nil
	})
	s.after = func(d time.Duration) <-chan time.Time {
		r.waits = append(r.waits, d)
		now := make(chan time.Time, 1)
		now <- time.Now()
		return now
	}
	s, err := openWatch(s, first, nil)
	return s, r, err
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

// Watch returns once the call is accepted (its headers came), without
// reading an event: on a quiet run the first may be minutes away.
func TestWatchReturnsOnceAcceptedWithoutReadingAnEvent(t *testing.T) {
	first := &fakeCall{msgs: []*hv1.Event{chunk(8), runEnded(9)}}
	s, r, err := watchStream(t, 7, first, func(uint64) (*fakeCall, error) {
		t.Fatal("Watch called again after an accepted call")
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if first.recvs != 0 || len(r.afters) != 0 {
		t.Fatalf("%d reads, %d calls again before Watch returned; want none", first.recvs, len(r.afters))
	}
	if got := seqs(t, s); !slices.Equal(got, []uint64{8, 9}) {
		t.Fatalf("seqs %v, want [8 9]", got)
	}
}

// A call that ends without headers (a trailers-only response) is a
// rejection: Watch fails at once with its status, without a call again.
func TestWatchRejectedWithoutHeadersFailsAtOnce(t *testing.T) {
	first := &fakeCall{noHeaders: true, err: status.Error(codes.NotFound, "no such workflow")}
	s, r, err := watchStream(t, 0, first, func(uint64) (*fakeCall, error) {
		t.Fatal("Watch called again after NotFound")
		return nil, nil
	})
	var e *Error
	if !errors.As(err, &e) || e.Code() != codes.NotFound || s != nil || len(r.waits) != 0 {
		t.Fatalf("Watch = %v, %v after waits %v; want a NotFound *Error at once", s, err, r.waits)
	}
}

// A call that fails Unavailable before it is accepted (the call itself, its
// headers, or a trailers-only response) is made again within Watch, with the
// Watch's afterSeq and the usual waits; Watch returns once one is accepted.
func TestWatchUnavailableBeforeAcceptedIsCalledAgain(t *testing.T) {
	first := &fakeCall{noHeaders: true, err: errLost}
	calls := 0
	s, r, err := watchStream(t, 41, first, func(after uint64) (*fakeCall, error) {
		switch calls++; calls {
		case 1:
			return nil, status.Error(codes.Unavailable, "refused")
		case 2:
			return &fakeCall{headerErr: errLost}, nil
		default:
			return &fakeCall{msgs: []*hv1.Event{runEnded(after + 1)}}, nil
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.afters, []uint64{41, 41, 41}) {
		t.Fatalf("called again with after_seqs %v, want [41 41 41]", r.afters)
	}
	if want := []time.Duration{resumeFirstWait, 2 * resumeFirstWait, 4 * resumeFirstWait}; !slices.Equal(r.waits, want) {
		t.Fatalf("waits %v, want %v", r.waits, want)
	}
	if got := seqs(t, s); !slices.Equal(got, []uint64{42}) {
		t.Fatalf("seqs %v, want [42]", got)
	}
}

// A server that stays away fails Watch itself after 6 calls again, with the
// last Unavailable *Error.
func TestWatchGivesUpBeforeAcceptedAfterSixFailedCalls(t *testing.T) {
	first := &fakeCall{noHeaders: true, err: errLost}
	s, r, err := watchStream(t, 0, first, func(uint64) (*fakeCall, error) {
		return &fakeCall{noHeaders: true, err: status.Error(codes.Unavailable, "still away")}, nil
	})
	var e *Error
	if !errors.As(err, &e) || e.Code() != codes.Unavailable || e.Message != "still away" || s != nil {
		t.Fatalf("Watch = %v, %v; want the last Unavailable *Error", s, err)
	}
	if len(r.afters) != resumeAttempts {
		t.Fatalf("%d calls again, want %d", len(r.afters), resumeAttempts)
	}
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
	s, r, err := watchStream(t, 4, first, func(after uint64) (*fakeCall, error) {
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
	if !slices.Equal(r.afters, []uint64{7}) || !slices.Equal(r.waits, []time.Duration{resumeFirstWait}) {
		t.Fatalf("Watch called again with after_seq %v after waits %v, want [7] after [100ms]", r.afters, r.waits)
	}
	if s.Result() == nil || s.Err() != nil {
		t.Fatalf("result %v err %v, want the RunEnded result and no error", s.Result(), s.Err())
	}
}

func TestResumeBeforeAnyEventUsesTheWatchAfterSeq(t *testing.T) {
	failing := &fakeCall{err: errLost}
	s, r, err := watchStream(t, 41, failing, func(after uint64) (*fakeCall, error) {
		return &fakeCall{msgs: []*hv1.Event{runEnded(after + 1)}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(t, s); !slices.Equal(got, []uint64{42}) || !slices.Equal(r.afters, []uint64{41}) {
		t.Fatalf("seqs %v after_seqs %v, want [42] after [41]", got, r.afters)
	}
}

// When the server no longer keeps the events after the last delivered seq,
// the call made again starts with events_lost: the stream passes it on typed.
func TestResumePassesOnTheLostRange(t *testing.T) {
	first := &fakeCall{msgs: []*hv1.Event{chunk(1), chunk(2)}, err: errLost}
	s, r, err := watchStream(t, 0, first, func(after uint64) (*fakeCall, error) {
		lost := &hv1.Event{WorkflowId: "wf", Seq: 30, Kind: &hv1.Event_EventsLost{
			EventsLost: &hv1.EventsLost{FirstSeq: after + 1, LastSeq: 30}}}
		return &fakeCall{msgs: []*hv1.Event{lost, chunk(31), runEnded(32)}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var events []Event
	for ev, err := range s.Events() {
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	if len(events) != 5 || !slices.Equal(r.afters, []uint64{2}) {
		t.Fatalf("%d events after calls again with %v, want 5 after [2]", len(events), r.afters)
	}
	if lost, ok := events[2].(*EventsLost); !ok || lost.FirstSeq != 3 || lost.LastSeq != 30 || lost.Seq != 30 {
		t.Fatalf("third event %#v, want *EventsLost of seqs 3..30", events[2])
	}
	if events[3].Meta().Seq != 31 || s.Result() == nil {
		t.Fatalf("after the lost range: seq %d, result %v; want 31, then RunEnded", events[3].Meta().Seq, s.Result())
	}
}

// An attempt that delivers an event resets the count: a stream cut after
// every event still reads to the end.
func TestResumeCountResetsWhenAnEventArrives(t *testing.T) {
	first := &fakeCall{msgs: []*hv1.Event{chunk(1)}, err: errLost}
	s, r, err := watchStream(t, 0, first, func(after uint64) (*fakeCall, error) {
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
	if len(r.afters) != 9 {
		t.Fatalf("%d calls again, want 9", len(r.afters))
	}
	for _, wait := range r.waits {
		if wait != resumeFirstWait {
			t.Fatalf("waits %v, want each the first wait (100ms)", r.waits)
		}
	}
}

func TestResumeGivesUpAfterSixFailedCalls(t *testing.T) {
	first := &fakeCall{msgs: []*hv1.Event{chunk(1)}, err: errLost}
	calls := 0
	s, r, err := watchStream(t, 0, first, func(uint64) (*fakeCall, error) {
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
	if events != 1 || len(r.afters) != resumeAttempts {
		t.Fatalf("%d events, %d calls again; want 1 and %d", events, len(r.afters), resumeAttempts)
	}
	for _, after := range r.afters {
		if after != 1 {
			t.Fatalf("after_seqs %v, want every one 1", r.afters)
		}
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 2000}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(r.waits, want) {
		t.Fatalf("waits %v, want %v", r.waits, want)
	}
}

func TestResumeNotOnOtherErrors(t *testing.T) {
	first := &fakeCall{msgs: []*hv1.Event{chunk(1)}, err: status.Error(codes.Internal, "boom")}
	s, r, err := watchStream(t, 0, first, func(uint64) (*fakeCall, error) {
		t.Fatal("Watch called again after Internal")
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for range s.Events() {
	}
	if status.Code(s.Err()) != codes.Internal || len(r.afters) != 0 || len(r.waits) != 0 {
		t.Fatalf("err %v after %d calls again, want Internal and none", s.Err(), len(r.afters))
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

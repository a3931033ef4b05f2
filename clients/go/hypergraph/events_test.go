package hypergraph

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	hv1 "github.com/hypergraph-grpc/hypergraph-grpc/clients/go/gen/hypergraph/v1"
)

func TestEventFromProto(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	chunk := eventFromProto(&hv1.Event{
		WorkflowId: "wf", RunId: "r", Seq: 4, Node: "llm", Time: timestamppb.New(at),
		Kind: &hv1.Event_StreamingChunk{StreamingChunk: &hv1.StreamingChunk{
			Payload: &hv1.StreamingChunk_Text{Text: "ab"}, Merged: 2}},
	})
	c, ok := chunk.(*Chunk)
	if !ok || c.Kind != ChunkText || c.Text != "ab" || c.Merged != 2 || c.Seq != 4 || c.Node != "llm" || !c.Time.Equal(at) {
		t.Fatalf("chunk = %#v", chunk)
	}
	if c.Meta().Proto().GetRunId() != "r" {
		t.Fatalf("Proto() lost the message")
	}

	values, _ := structpb.NewStruct(map[string]any{"sum": 42})
	ended := eventFromProto(&hv1.Event{Kind: &hv1.Event_RunEnded{RunEnded: &hv1.RunEnded{
		DurationMs: 1.5,
		Result: &hv1.RunResult{Status: hv1.RunStatus_RUN_STATUS_FAILED, Values: values,
			Error: &hv1.ErrorInfo{Type: "ValueError", Message: "boom", Node: "n"}},
	}}})
	e, ok := ended.(*RunEnded)
	if !ok || e.Duration != 1500*time.Microsecond || e.Result.Status != StatusFailed || e.Result.Values["sum"] != int64(42) {
		t.Fatalf("run ended = %#v", ended)
	}
	if e.Result.Err() == nil || e.Result.Error.Type != "ValueError" || e.Result.StopInfo != nil {
		t.Fatalf("result = %#v", e.Result)
	}
	if (&RunResult{Status: StatusCompleted}).Err() != nil {
		t.Fatalf("a completed result has no error")
	}
	if _, ok := eventFromProto(&hv1.Event{}).(*UnknownEvent); !ok {
		t.Fatalf("an event without kind must be *UnknownEvent")
	}
}

// events_lost is typed, never an *UnknownEvent a caller would skip.
func TestEventsLostFromProto(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := eventFromProto(&hv1.Event{
		WorkflowId: "wf", RunId: "r", Seq: 80, Time: timestamppb.New(at),
		Kind: &hv1.Event_EventsLost{EventsLost: &hv1.EventsLost{FirstSeq: 6, LastSeq: 80}},
	})
	lost, ok := ev.(*EventsLost)
	if !ok {
		t.Fatalf("events_lost = %T, want *EventsLost", ev)
	}
	if lost.FirstSeq != 6 || lost.LastSeq != 80 || lost.Seq != 80 || lost.WorkflowID != "wf" ||
		lost.RunID != "r" || !lost.Time.Equal(at) || lost.Proto().GetEventsLost().GetLastSeq() != 80 {
		t.Fatalf("events lost = %+v", lost)
	}
}

func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{StatusCompleted: "COMPLETED", StatusFailed: "FAILED", StatusStopped: "STOPPED"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", s, s.String(), want)
		}
	}
}

func TestRunStateString(t *testing.T) {
	for s, want := range map[RunState]string{RunStateUnspecified: "UNSPECIFIED", RunStateStopping: "STOPPING", RunStateEnded: "ENDED"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", s, s.String(), want)
		}
	}
}

func TestStopOutcomeCarriesTheWholeAnswer(t *testing.T) {
	got := stopOutcomeFromProto(&hv1.StopResponse{Found: true, RunId: "run-1", State: hv1.RunState_RUN_STATE_STOPPING})
	want := StopOutcome{Found: true, RunID: "run-1", State: RunStateStopping}
	if got != want {
		t.Fatalf("stopOutcomeFromProto = %+v, want %+v", got, want)
	}
}

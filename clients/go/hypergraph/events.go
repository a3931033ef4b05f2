package hypergraph

import (
	"time"

	hv1 "github.com/hypergraph-grpc/hypergraph-grpc/clients/go/gen/hypergraph/v1"
)

// Event is one event of a run. Its concrete type says what happened:
// *RunStarted, *SuperstepStarted, *NodeStarted, *Chunk, *NodeEnded,
// *NodeFailed, *RouteDecision, *StopRequested or *RunEnded (always last);
// a Watch may also start with *EventsLost (events it can no longer send).
// Use a type switch:
//
//	switch e := ev.(type) {
//	case *hypergraph.Chunk:
//		fmt.Print(e.Text)
//	case *hypergraph.RunEnded:
//		fmt.Println(e.Result.Status)
//	}
//
// An event kind this client does not know yet arrives as *UnknownEvent.
type Event interface {
	// Meta returns the envelope shared by every event (ids, seq, time, node).
	Meta() *EventMeta
}

// EventMeta is the envelope of every event.
type EventMeta struct {
	WorkflowID string
	RunID      string
	// Seq is 1, 2, 3, ... within a run; a merged chunk advances it by its
	// Merged count, and a text-view stream (WithTextView) skips the events it leaves out.
	Seq  uint64
	Time time.Time
	// Node is the node the event belongs to; empty for run-level events.
	Node         string
	SpanID       string
	ParentSpanID string

	proto *hv1.Event
}

// Meta implements Event for every type that embeds EventMeta.
func (m *EventMeta) Meta() *EventMeta { return m }

// Proto returns the generated message the event was made from.
func (m *EventMeta) Proto() *hv1.Event { return m.proto }

// RunStarted marks the start of a run.
type RunStarted struct {
	EventMeta
	Graph string
}

// SuperstepStarted marks the start of a superstep.
type SuperstepStarted struct {
	EventMeta
	Superstep int
}

// NodeStarted marks the start of a node execution.
type NodeStarted struct{ EventMeta }

// ChunkKind says which payload a Chunk carries.
type ChunkKind int

// The chunk payloads.
const (
	// ChunkText: Text holds the text (merged chunks are concatenated).
	ChunkText ChunkKind = iota
	// ChunkValue: Value holds a JSON-like value.
	ChunkValue
	// ChunkData: Data holds raw bytes (merged chunks are concatenated).
	ChunkData
)

// Chunk is what a node passed to ctx.stream(): usually LLM text tokens.
type Chunk struct {
	EventMeta
	Kind  ChunkKind
	Text  string
	Value any
	Data  []byte
	// Merged is how many ctx.stream() calls this message holds (1 unless merged).
	Merged int
}

// NodeEnded marks the successful end of a node execution.
type NodeEnded struct {
	EventMeta
	Duration time.Duration
	Usage    map[string]any
}

// NodeFailed marks a node execution that raised or was cancelled.
type NodeFailed struct {
	EventMeta
	Error *RunError
}

// RouteDecision records where a gate sent the run.
type RouteDecision struct {
	EventMeta
	// Decision is a node name or "END"; empty when nothing was activated.
	Decision string
	End      bool
}

// StopRequested records the stop request that decided the run's status.
type StopRequested struct {
	EventMeta
	Info map[string]any
}

// RunEnded is the last event of every run.
type RunEnded struct {
	EventMeta
	Result   *RunResult
	Duration time.Duration
}

// EventsLost says which events of the run a Watch cannot send any more (older
// than the server keeps): a gap in what was watched, said rather than silent.
// It is the first event of a Watch call, also one made to resume, whose
// afterSeq is older than the kept events; its Seq is LastSeq, and the next
// event follows LastSeq.
type EventsLost struct {
	EventMeta
	// FirstSeq is the first missing seq (the call's afterSeq + 1).
	FirstSeq uint64
	// LastSeq is the last missing seq.
	LastSeq uint64
}

// UnknownEvent is an event kind newer than this client; see Proto().
type UnknownEvent struct{ EventMeta }

func millis(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// eventFromProto converts one generated Event into its typed form.
func eventFromProto(p *hv1.Event) Event {
	m := EventMeta{
		WorkflowID: p.GetWorkflowId(), RunID: p.GetRunId(), Seq: p.GetSeq(),
		Node: p.GetNode(), SpanID: p.GetSpanId(), ParentSpanID: p.GetParentSpanId(), proto: p,
	}
	if p.GetTime() != nil {
		m.Time = p.GetTime().AsTime()
	}
	switch k := p.GetKind().(type) {
	case *hv1.Event_RunStarted:
		return &RunStarted{m, k.RunStarted.GetGraph()}
	case *hv1.Event_SuperstepStarted:
		return &SuperstepStarted{m, int(k.SuperstepStarted.GetSuperstep())}
	case *hv1.Event_NodeStarted:
		return &NodeStarted{m}
	case *hv1.Event_StreamingChunk:
		return chunkFromProto(m, k.StreamingChunk)
	case *hv1.Event_NodeEnded:
		return &NodeEnded{m, millis(k.NodeEnded.GetDurationMs()), FromStruct(k.NodeEnded.GetUsage())}
	case *hv1.Event_NodeFailed:
		return &NodeFailed{m, runErrorFromProto(k.NodeFailed.GetError())}
	case *hv1.Event_RouteDecision:
		return &RouteDecision{m, k.RouteDecision.GetDecision(), k.RouteDecision.GetEnd()}
	case *hv1.Event_StopRequested:
		return &StopRequested{m, FromStruct(k.StopRequested.GetInfo())}
	case *hv1.Event_RunEnded:
		return &RunEnded{m, runResultFromProto(k.RunEnded.GetResult()), millis(k.RunEnded.GetDurationMs())}
	case *hv1.Event_EventsLost:
		return &EventsLost{m, k.EventsLost.GetFirstSeq(), k.EventsLost.GetLastSeq()}
	}
	return &UnknownEvent{m}
}

func chunkFromProto(m EventMeta, p *hv1.StreamingChunk) *Chunk {
	c := &Chunk{EventMeta: m, Merged: int(p.GetMerged())}
	switch pl := p.GetPayload().(type) {
	case *hv1.StreamingChunk_Text:
		c.Kind, c.Text = ChunkText, pl.Text
	case *hv1.StreamingChunk_Value:
		c.Kind, c.Value = ChunkValue, FromValue(pl.Value)
	case *hv1.StreamingChunk_Data:
		c.Kind, c.Data = ChunkData, pl.Data
	}
	if c.Merged == 0 {
		c.Merged = 1
	}
	return c
}

package hypergraph

import (
	"time"

	hv1 "github.com/hypergraph-grpc/hypergraph-grpc/clients/go/gen/hypergraph/v1"
)

// Status is how a run ended.
type Status int32

// The run statuses (hypergraph.v1.RunStatus).
const (
	StatusUnspecified Status = Status(hv1.RunStatus_RUN_STATUS_UNSPECIFIED)
	StatusCompleted   Status = Status(hv1.RunStatus_RUN_STATUS_COMPLETED)
	StatusFailed      Status = Status(hv1.RunStatus_RUN_STATUS_FAILED)
	StatusStopped     Status = Status(hv1.RunStatus_RUN_STATUS_STOPPED)
)

// String is the status name without its prefix: "COMPLETED", "FAILED", "STOPPED".
func (s Status) String() string {
	switch s {
	case StatusCompleted:
		return "COMPLETED"
	case StatusFailed:
		return "FAILED"
	case StatusStopped:
		return "STOPPED"
	case StatusUnspecified:
		return "UNSPECIFIED"
	}
	return hv1.RunStatus(s).String()
}

// RunError is the error that failed a run or a node (a node raised).
type RunError struct {
	// Type is the error's qualified type name, e.g. "ValueError".
	Type string
	// Message is the error message.
	Message string
	// Node is the node that raised, when known.
	Node string
}

// Error formats the node, type and message.
func (e *RunError) Error() string {
	if e.Node != "" {
		return "hypergraph: node " + e.Node + " raised " + e.Type + ": " + e.Message
	}
	return "hypergraph: run failed with " + e.Type + ": " + e.Message
}

// RunResult is the outcome of one run.
type RunResult struct {
	WorkflowID string
	RunID      string
	Status     Status
	// Values holds the last written value of every (selected) output.
	Values map[string]any
	// Error is set when Status is StatusFailed.
	Error *RunError
	// StopInfo is the info of the stop request when the run was stopped.
	StopInfo map[string]any
	// Forced is true when nodes were cancelled (grace ran out, client went away).
	Forced bool
	// Usage is what the run's nodes reported (tokens, stop reason, ...).
	Usage map[string]any
}

// Err returns Error as an error when the run failed, else nil. It saves the
// caller from the typed-nil trap of returning the *RunError field directly.
func (r *RunResult) Err() error {
	if r == nil || r.Error == nil {
		return nil
	}
	return r.Error
}

func runResultFromProto(p *hv1.RunResult) *RunResult {
	if p == nil {
		return nil
	}
	r := &RunResult{
		WorkflowID: p.GetWorkflowId(),
		RunID:      p.GetRunId(),
		Status:     Status(p.GetStatus()),
		Values:     FromStruct(p.GetValues()),
		Error:      runErrorFromProto(p.GetError()),
		Forced:     p.GetForced(),
		Usage:      FromStruct(p.GetUsage()),
	}
	if p.GetStopInfo() != nil {
		r.StopInfo = FromStruct(p.GetStopInfo())
	}
	return r
}

func runErrorFromProto(p *hv1.ErrorInfo) *RunError {
	if p == nil {
		return nil
	}
	return &RunError{Type: p.GetType(), Message: p.GetMessage(), Node: p.GetNode()}
}

// RunState is a run's lifecycle state as Stop saw it.
type RunState int32

// The run states (hypergraph.v1.RunState).
const (
	RunStateUnspecified RunState = RunState(hv1.RunState_RUN_STATE_UNSPECIFIED)
	RunStateStopping    RunState = RunState(hv1.RunState_RUN_STATE_STOPPING)
	RunStateEnded       RunState = RunState(hv1.RunState_RUN_STATE_ENDED)
	RunStateRunning     RunState = RunState(hv1.RunState_RUN_STATE_RUNNING)
)

// String is the state name without its prefix: "STOPPING", "ENDED", "RUNNING", "UNSPECIFIED".
func (s RunState) String() string {
	switch s {
	case RunStateStopping:
		return "STOPPING"
	case RunStateEnded:
		return "ENDED"
	case RunStateRunning:
		return "RUNNING"
	case RunStateUnspecified:
		return "UNSPECIFIED"
	}
	return hv1.RunState(s).String()
}

// StopOutcome is what Stop answered.
type StopOutcome struct {
	// Found is true when a live run was reached; it will end StatusStopped
	// (also for a repeated request). False for unknown or ended workflows.
	Found bool
	// RunID is the run that was reached ("" when not found).
	RunID string
	// State is the run's state after the request.
	State RunState
}

// RunSummary is a live run as ListRuns shows it.
type RunSummary struct {
	WorkflowID string
	RunID      string // "" until the run has started
	Graph      string
	Owner      string // the replica running it
	StartTime  time.Time
	State      RunState // RunStateRunning, or RunStateStopping once a Stop reached it
}

func runSummaryFromProto(p *hv1.RunSummary) RunSummary {
	return RunSummary{
		WorkflowID: p.GetWorkflowId(),
		RunID:      p.GetRunId(),
		Graph:      p.GetGraph(),
		Owner:      p.GetOwner(),
		StartTime:  p.GetStartTime().AsTime(),
		State:      RunState(p.GetState()),
	}
}

func stopOutcomeFromProto(p *hv1.StopResponse) StopOutcome {
	return StopOutcome{Found: p.GetFound(), RunID: p.GetRunId(), State: RunState(p.GetState())}
}

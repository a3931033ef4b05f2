package hypergraph

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of the server's own errors.
const ErrorDomain = "hypergraph.dev"

// Error is a failed RPC: the gRPC status code and message plus the
// google.rpc details the server attached. It works with errors.As and with
// status.Code / status.FromError (it implements GRPCStatus). A node that
// raises is not an Error: the run ends with StatusFailed instead.
type Error struct {
	// Message is the status message (says what went wrong and how to fix it).
	Message string
	// Reason is google.rpc.ErrorInfo.reason, e.g. "GRAPH_NOT_FOUND" (may be empty).
	Reason string
	// Domain is google.rpc.ErrorInfo.domain (ErrorDomain for the server's errors).
	Domain string
	// Metadata is google.rpc.ErrorInfo.metadata.
	Metadata map[string]string
	// FieldViolations are the google.rpc.BadRequest violations, e.g. field "values.b".
	FieldViolations []FieldViolation

	status *status.Status
}

// FieldViolation names one bad field of a request (google.rpc.BadRequest).
type FieldViolation struct {
	Field       string
	Description string
}

// Code is the gRPC status code.
func (e *Error) Code() codes.Code { return e.status.Code() }

// GRPCStatus returns the full status (used by status.Code and status.FromError).
func (e *Error) GRPCStatus() *status.Status { return e.status }

// Error formats the code, reason and message.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hypergraph: %s", e.Code())
	if e.Reason != "" {
		fmt.Fprintf(&b, " (%s)", e.Reason)
	}
	fmt.Fprintf(&b, ": %s", e.Message)
	return b.String()
}

// Unwrap lets errors.Is(err, context.Canceled / context.DeadlineExceeded) hold
// for calls that ended because of a cancelled context or a passed deadline.
func (e *Error) Unwrap() error {
	switch e.Code() {
	case codes.Canceled:
		return context.Canceled
	case codes.DeadlineExceeded:
		return context.DeadlineExceeded
	}
	return nil
}

// Violation returns the violation of field, if any.
func (e *Error) Violation(field string) (FieldViolation, bool) {
	for _, v := range e.FieldViolations {
		if v.Field == field {
			return v, true
		}
	}
	return FieldViolation{}, false
}

// wrapError turns an error of a generated stub into an *Error; non-status
// errors (there should be none) pass through unchanged.
func wrapError(err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	e := &Error{Message: st.Message(), status: st}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			e.Reason, e.Domain, e.Metadata = d.GetReason(), d.GetDomain(), d.GetMetadata()
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				e.FieldViolations = append(e.FieldViolations, FieldViolation{v.GetField(), v.GetDescription()})
			}
		}
	}
	return e
}

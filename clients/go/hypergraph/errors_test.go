package hypergraph

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestWrapErrorReadsDetails(t *testing.T) {
	st, err := status.New(codes.InvalidArgument, "missing input b").WithDetails(
		&errdetails.ErrorInfo{Reason: "INVALID_INPUT", Domain: ErrorDomain, Metadata: map[string]string{"graph": "add"}},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "values.b", Description: "required input b is missing"},
		}},
	)
	if err != nil {
		t.Fatal(err)
	}
	wrapped := fmt.Errorf("calling: %w", wrapError(st.Err()))

	var e *Error
	if !errors.As(wrapped, &e) {
		t.Fatalf("errors.As found no *Error in %v", wrapped)
	}
	if e.Code() != codes.InvalidArgument || e.Reason != "INVALID_INPUT" || e.Domain != ErrorDomain || e.Metadata["graph"] != "add" {
		t.Fatalf("unexpected error fields: %+v", e)
	}
	if v, ok := e.Violation("values.b"); !ok || v.Description == "" {
		t.Fatalf("no violation for values.b in %+v", e.FieldViolations)
	}
	if status.Code(wrapped) != codes.InvalidArgument {
		t.Fatalf("status.Code = %v", status.Code(wrapped))
	}
	if got := e.Error(); got != "hypergraph: InvalidArgument (INVALID_INPUT): missing input b" {
		t.Fatalf("Error() = %q", got)
	}
}

func TestCancelledErrorsUnwrapToContextErrors(t *testing.T) {
	if err := wrapError(status.Error(codes.Canceled, "x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("%v is not context.Canceled", err)
	}
	if err := wrapError(status.Error(codes.DeadlineExceeded, "x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v is not context.DeadlineExceeded", err)
	}
	if err := wrapError(status.Error(codes.NotFound, "x")); errors.Is(err, context.Canceled) {
		t.Fatalf("%v must not be context.Canceled", err)
	}
}

// Package hypergraph is the Go client of hypergraph-grpc: start hypergraph
// workflows on a server, consume their events token by token, and stop them.
//
// It wraps the generated stubs (package hypergraphv1 under gen/) with native
// Go types: values are map[string]any (integral numbers within 2^53 come back
// as int64, others as float64), events are typed structs, and RPC failures are
// *Error values carrying the gRPC code and the google.rpc details.
//
//	client, err := hypergraph.Dial(ctx, "127.0.0.1:50051")
//	if err != nil { ... }
//	defer client.Close()
//
//	res, err := client.Run(ctx, "add", map[string]any{"a": 2, "b": 40})
//	// res.Status == hypergraph.StatusCompleted, res.Values["sum"] == int64(42)
//
//	stream, err := client.Iter(ctx, "chat", map[string]any{"prompt": "hi"})
//	for ev, err := range stream.Events() {
//		if err != nil { ... }
//		if c, ok := ev.(*hypergraph.Chunk); ok { fmt.Print(c.Text) }
//	}
//	res = stream.Result()
//
// Streams follow the pattern of connect-go and Go 1.23: Events() and Text()
// are range-over-func iterators yielding (item, error); a lower-level
// Receive()/Event()/Err() loop is also available. Cancelling the context of
// an Iter call (or Close, or leaving the loop early) cancels the stream, and
// the server then stops the run unless WithDetach was given.
package hypergraph

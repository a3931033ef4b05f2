"""hypergraph-grpc: a gRPC service hosting hypergraph streaming workflows."""

"""The test graphs plus one LLM graph (the offline model, unpaced), served by these tests."""

from hypergraph import Graph
from hypergraph_grpc.demo.testing import GRAPHS as TESTING
from hypergraph_grpc.llm import offline_node

GRAPHS = {**TESTING, "chat": Graph([offline_node(tokens_per_second=0)], name="chat")}
SPEC = "tests.observability.graphs:GRAPHS"

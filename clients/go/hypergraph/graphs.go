package hypergraph

import (
	hv1 "github.com/hypergraph-grpc/hypergraph-grpc/clients/go/gen/hypergraph/v1"
)

// GraphInfo describes one registered graph.
type GraphInfo struct {
	Name        string
	Description string
	// Inputs: required ones first, then optional ones.
	Inputs []InputInfo
	// Outputs in node order.
	Outputs []OutputInfo
	// Nodes names the graph's nodes in graph order.
	Nodes []string
}

// InputInfo describes one input of a graph.
type InputInfo struct {
	Name     string
	Required bool
	// Default is the value used when an optional input is not given (nil if required).
	Default     any
	Description string
	// Type is the Python annotation as text, e.g. "int", if any.
	Type string
}

// OutputInfo describes one output of a graph.
type OutputInfo struct {
	Name        string
	Node        string
	Description string
}

func graphFromProto(p *hv1.GraphInfo) GraphInfo {
	g := GraphInfo{Name: p.GetName(), Description: p.GetDescription(), Nodes: p.GetNodes()}
	for _, in := range p.GetInputs() {
		info := InputInfo{Name: in.GetName(), Required: in.GetRequired(), Description: in.GetDescription(), Type: in.GetType()}
		if in.GetDefaultValue() != nil {
			info.Default = FromValue(in.GetDefaultValue())
		}
		g.Inputs = append(g.Inputs, info)
	}
	for _, out := range p.GetOutputs() {
		g.Outputs = append(g.Outputs, OutputInfo{Name: out.GetName(), Node: out.GetNode(), Description: out.GetDescription()})
	}
	return g
}

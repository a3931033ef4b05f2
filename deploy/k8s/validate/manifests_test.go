// Package validate checks deploy/k8s offline: every manifest decodes strictly into the
// Kubernetes API types (an unknown or misspelt field fails), and the pieces fit together
// (selectors, probes, the drain within the termination grace period).
package validate

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

type manifests struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	budgets     map[string]*policyv1.PodDisruptionBudget
}

func load(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("../*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/k8s (%v)", err)
	}
	m := manifests{map[string]*appsv1.Deployment{}, map[string]*corev1.Service{}, map[string]*policyv1.PodDisruptionBudget{}}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(raw), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			where := file + " document " + strconv.Itoa(i)
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			switch head.APIVersion + " " + head.Kind {
			case "apps/v1 Deployment":
				var d appsv1.Deployment
				strict(t, where, doc, &d)
				m.deployments[d.Name] = &d
			case "v1 Service":
				var s corev1.Service
				strict(t, where, doc, &s)
				m.services[s.Name] = &s
			case "policy/v1 PodDisruptionBudget":
				var p policyv1.PodDisruptionBudget
				strict(t, where, doc, &p)
				m.budgets[p.Name] = &p
			default:
				t.Fatalf("%s: unexpected %s %s (add a case to decode it strictly)", where, head.APIVersion, head.Kind)
			}
		}
	}
	return m
}

func stripComments(doc string) string {
	var out bytes.Buffer
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			out.WriteString(line + "\n")
		}
	}
	return out.String()
}

func strict(t *testing.T, where, doc string, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
		t.Fatalf("%s does not decode strictly: %v", where, err)
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestEveryManifestDecodesStrictly(t *testing.T) {
	m := load(t)
	for _, name := range []string{"hypergraph-grpc", "redis"} {
		if m.deployments[name] == nil || m.services[name] == nil {
			t.Errorf("deployment and service %q are both needed", name)
		}
	}
	if m.services["hypergraph-grpc-headless"] == nil || m.budgets["hypergraph-grpc"] == nil {
		t.Errorf("the headless service and the disruption budget are needed")
	}
}

func TestServersProbeGrpcHealthAndDrainWithinTheGracePeriod(t *testing.T) {
	d := load(t).deployments["hypergraph-grpc"]
	spec := d.Spec.Template.Spec
	server := spec.Containers[0]
	for name, probe := range map[string]*corev1.Probe{"readiness": server.ReadinessProbe, "liveness": server.LivenessProbe} {
		if probe == nil || probe.GRPC == nil || probe.GRPC.Port != server.Ports[0].ContainerPort {
			t.Errorf("%s probe must be the native gRPC probe on the server port", name)
		}
	}
	drain, coordination := -1, ""
	for _, arg := range server.Args {
		if v, ok := strings.CutPrefix(arg, "--drain-seconds="); ok {
			drain, _ = strconv.Atoi(v)
		}
		if v, ok := strings.CutPrefix(arg, "--coordination="); ok {
			coordination = v
		}
	}
	if drain < 0 || spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds < int64(drain)+5 {
		t.Errorf("terminationGracePeriodSeconds must exceed --drain-seconds (%d) with room to stop runs", drain)
	}
	if !strings.HasPrefix(coordination, "redis://redis:") {
		t.Errorf("replicas must share the redis Service, got --coordination=%q", coordination)
	}
}

func TestServicesAndBudgetSelectTheServers(t *testing.T) {
	m := load(t)
	labels := m.deployments["hypergraph-grpc"].Spec.Template.Labels
	for _, name := range []string{"hypergraph-grpc", "hypergraph-grpc-headless"} {
		if !selects(m.services[name].Spec.Selector, labels) {
			t.Errorf("service %s does not select the server pods", name)
		}
	}
	if m.services["hypergraph-grpc-headless"].Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("the headless service needs clusterIP: None (client-side round_robin)")
	}
	budget := m.budgets["hypergraph-grpc"]
	if budget.Spec.Selector == nil || !selects(budget.Spec.Selector.MatchLabels, labels) {
		t.Errorf("the disruption budget does not select the server pods")
	}
	redisLabels := m.deployments["redis"].Spec.Template.Labels
	if !selects(m.services["redis"].Spec.Selector, redisLabels) {
		t.Errorf("service redis does not select the redis pod")
	}
}

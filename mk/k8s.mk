# Kubernetes manifests (deploy/k8s), validated offline: a Go test decodes every
# manifest strictly into the k8s.io/api types (from the Go module proxy, locked in
# go.sum) and checks that the pieces fit; no cluster and no schema download needed.

K8S_VALIDATE := $(ROOT)/deploy/k8s/validate
TEST_TARGETS += test-k8s

.PHONY: test-k8s

test-k8s:
	cd $(K8S_VALIDATE) && $(GO) mod verify && $(GO) test -count=1 ./...

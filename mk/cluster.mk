# Cluster deployments: Redis coordination and the nginx gRPC balancer, from Debian.
# The cluster tests start private instances of both on free loopback ports in
# temporary directories (tests/cluster); nothing is left running.

APT_PACKAGES += redis-server nginx

.PHONY: run-cluster

# redis-server, 2 replicas and nginx on free local ports; prints the address; Ctrl-C stops all.
run-cluster: install
	$(PY) scripts/run_cluster.py

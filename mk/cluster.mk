# Cluster deployments: Redis coordination and the nginx gRPC balancer, from Debian.
# The cluster tests start private instances of both on free loopback ports in
# temporary directories (tests/cluster); nothing is left running.

APT_PACKAGES += redis-server nginx

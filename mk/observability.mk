# Observability: promtool (Debian's prometheus package) checks the alert rules in deploy/prometheus.
APT_PACKAGES += prometheus
TEST_TARGETS += check-alert-rules

.PHONY: check-alert-rules

check-alert-rules: deps-apt
	promtool check rules deploy/prometheus/alerts.yml
	promtool test rules deploy/prometheus/alerts_test.yml

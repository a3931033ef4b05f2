"""deploy/grafana and deploy/prometheus: valid PromQL over metrics the server exports.

promtool comes from Debian's prometheus package (APT_PACKAGES, mk/observability.mk);
`make check-alert-rules` also runs the alert rules' own unit tests.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hypergraph_grpc.client import Client
from tests.observability.graphs import SPEC
from tests.support.server_process import ROOT, ServerProcess

DASHBOARD = ROOT / "deploy" / "grafana" / "hypergraph-grpc.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool: run `make install`")


def _dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def _as_promql(expr: str) -> str:
    """A dashboard query with Grafana's variables filled in."""
    return expr.replace("$__rate_interval", "1m").replace("$job", "hypergraph-grpc")


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path):
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query{i}", "expr": _as_promql(expr)}
                    for i, expr in enumerate(_dashboard_exprs())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML too
    checked = subprocess.run(
        [PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@needs_promtool
def test_the_alert_rules_pass_promtool_and_their_unit_tests():
    for command in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]):
        done = subprocess.run(
            [PROMTOOL, *command], cwd=ALERTS.parent, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_every_metric_the_dashboard_and_alerts_read_is_exported():
    with ServerProcess("--graphs", SPEC, "--metrics-port", "0") as server:
        with Client(server.target) as client:
            list(client.iter("chat", {"prompt": "hi"}))
            client.run("fail", {"message": "counted"})
            sleeping = client.iter("sleep", {"seconds": 30})
            started = next(iter(sleeping))
            client.stop(started.workflow_id)
            list(sleeping)
        text = urllib.request.urlopen(server.metrics_url(), timeout=10).read().decode()
    families = list(text_string_to_metric_families(text))
    # A labelled counter nothing has counted yet is declared (HELP, TYPE) but has no sample.
    exported = {sample.name for family in families for sample in family.samples} | {
        family.name + "_total" for family in families if family.type == "counter"
    }
    texts = [*_dashboard_exprs(), ALERTS.read_text()]
    used = {name for text in texts for name in re.findall(r"\bhypergraph_\w+", text)}
    assert used - exported == set()

"""Merge each client's 16-stream benchmark into bench/results/clients.json.

Each language's bench target (make bench-go, bench-ts, bench-java, bench-rust)
writes bench/results/clients-<lang>.json in its own shape; the Python client's
figures come from bench/results/service.json (bench_service.py, 16 streams).
`make bench` runs them all in one invocation, then this script, so the table
compares clients measured in the same run on the same machine.
"""

from __future__ import annotations

import json
import pathlib
import sys

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def _load(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def _from_runs(data: dict) -> dict:
    """Go, TypeScript, Java, Rust: {"runs": {"hypergraph", "hypergraph_disable_merge", "baseline_grpc_aio"}}."""
    runs = data["runs"]
    row = {
        "tokens_per_s_merged": runs["hypergraph"]["tokens_per_s"],
        "messages_per_s_unmerged": runs["hypergraph_disable_merge"]["messages_per_s"],
    }
    if "baseline_grpc_aio" in runs:
        row["baseline_messages_per_s"] = runs["baseline_grpc_aio"]["messages_per_s"]
    return row


def _from_python(data: dict) -> dict:
    service = data.get("service", data)
    row = {
        "tokens_per_s_merged": service["throughput_16_merge"]["tokens_per_s"],
        "messages_per_s_unmerged": service["throughput_16_nomerge"]["messages_per_s"],
    }
    baseline = data.get("baseline", {}).get("throughput_16_merge")
    if baseline:
        row["baseline_messages_per_s"] = baseline["messages_per_s"]
    return row


SOURCES = {
    "python": ("service.json", _from_python),
    "go": ("clients-go.json", _from_runs),
    "typescript": ("clients-ts.json", _from_runs),
    "java": ("clients-java.json", _from_runs),
    "rust": ("clients-rust.json", _from_runs),
}


def main() -> int:
    table = {}
    for lang, (name, extract) in SOURCES.items():
        data = _load(name)
        if data is None:
            table[lang] = {"missing": f"bench/results/{name} not found (run make bench)"}
            continue
        try:
            table[lang] = extract(data)
        except (KeyError, TypeError) as exc:
            table[lang] = {"missing": f"{name} has no field {exc}"}
    out = {"streams": 16, "graph": "tokens", "clients": table}
    (RESULTS / "clients.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"{'client':<11} {'tokens/s merged':>16} {'msgs/s unmerged':>16} {'baseline msgs/s':>16}")
    for lang, row in table.items():
        if "missing" in row:
            print(f"{lang:<11} {row['missing']}")
            continue
        cells = [
            row.get(k)
            for k in ("tokens_per_s_merged", "messages_per_s_unmerged", "baseline_messages_per_s")
        ]
        print(f"{lang:<11} " + " ".join(f"{c:>16,.0f}" if c else f"{'-':>16}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())

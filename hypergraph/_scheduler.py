"""Which nodes are ready: the superstep rules of docs/runtime.md, over a run's state.

``ReadyState`` holds what the rules read (values, versions, run counts, pending
gate decisions, cycle progress) and answers ``ready()`` once per superstep by
walking the graph's components in topological order, so "can this node still
run?" is always known for everything upstream.
"""

from __future__ import annotations

from typing import Any

from ._graph import Plan

__all__ = ["ReadyState"]


class ReadyState:
    """The scheduling state of one run."""

    __slots__ = (
        "plan",
        "values",
        "ver",
        "node_ver",
        "read",
        "ran",
        "decision",
        "cycle_started",
        "cycle_finished",
        "version",
    )

    def __init__(self, plan: Plan, values: dict[str, Any]) -> None:
        self.plan = plan
        self.values = values
        # Every write gets a new version; node_ver counts only writes by nodes.
        self.ver = {name: i for i, name in enumerate(values, 1)}
        self.version = len(values)
        self.node_ver: dict[str, int] = {}
        self.ran = [0] * plan.n
        self.decision: list[int | None] = [None] * plan.n  # per gate: pending target
        # Read versions matter only inside cycles (rule 2 for cycle members). A graph
        # without cycles shares one empty tuple: nothing per run for the collector.
        self.read: list[dict[str, int]] | tuple[()] = ()
        self.cycle_started: list[bool] | tuple[()] = ()
        self.cycle_finished: list[bool] | tuple[()] = ()
        if plan.cycles:
            self.read = [{} for _ in range(plan.n)]
            self.cycle_started = [False] * len(plan.cycles)
            self.cycle_finished = [False] * len(plan.cycles)

    # --- bookkeeping when nodes start and write ------------------------------

    def start(self, i: int) -> None:
        """Record that node ``i`` starts: run count, decisions consumed, cycle started."""
        plan = self.plan
        self.ran[i] += 1
        for g in plan.gates_of[i]:
            if self.decision[g] == i:
                self.decision[g] = None
        c = plan.cycle_of[i]
        if c >= 0 and plan.entry_of[c] == i:
            self.cycle_started[c] = True

    def write(self, i: int, name: str, value: Any) -> None:
        """Node ``i`` wrote ``name``: a new version (its own reads follow its writes)."""
        self.version += 1
        self.values[name] = value
        self.ver[name] = self.version
        self.node_ver[name] = self.version

    def after_writes(self, i: int) -> None:
        """A node's own writes never re-trigger it: it has read what it wrote."""
        if not self.read:  # no cycles: nothing ever re-runs
            return
        read = self.read[i]
        for name in self.plan.self_inputs[i]:
            read[name] = self.ver[name]

    # --- readiness ------------------------------------------------------------------

    def ready(self) -> list[int]:
        """The nodes that run in the next superstep, in list order (may be empty)."""
        plan = self.plan
        can = [False] * plan.n
        ready: list[int] = []
        for comp in plan.order:
            if comp.__class__ is int:
                i = comp
                if (
                    self.ran[i]
                    or not self._gate_ok(i, can, -1)
                    or not self._inputs_ok(i, can, False)
                ):
                    continue
                can[i] = True
                if (not plan.gates_of[i] or self._has_decision(i)) and self._rule1(i, can):
                    ready.append(i)
            else:
                self._cycle(comp[1], can, ready)
        if len(ready) > 1:
            gates = [g for g in ready if plan.is_gate[g]]
            if gates:
                waiting = {t for g in gates for t in plan.targets_of[g]}
                ready = [i for i in ready if i not in waiting]
            ready.sort()
        return ready

    def _cycle(self, c: int, can: list[bool], ready: list[int]) -> None:
        plan = self.plan
        if self.cycle_finished[c]:
            return
        members = plan.cycles[c]
        entry = plan.entry_of[c]
        if not self.cycle_started[c]:
            if not self._inputs_ok(entry, can, True):
                return  # the cycle cannot start (yet); members stay "cannot run"
            # The first run needs no decision from the cycle's own gates, but a gate
            # outside the cycle that targets the entrypoint still decides whether
            # the cycle starts at all.
            outside = [g for g in plan.gates_of[entry] if plan.cycle_of[g] != c]
            decided = not outside or self._has_decision(entry)
            if not decided and not any(can[g] for g in outside):
                return  # its gates ran and chose something else: the cycle never starts
            for m in members:
                can[m] = True
            if decided and self._rule1(entry, can):
                ready.append(entry)
            return
        # Inlined rules (ii), (iii) and 2 for each member: this loop runs on every
        # superstep of a cycle, so it avoids per-rule method calls.
        ran = self.ran
        decision = self.decision
        values = self.values
        node_ver = self.node_ver
        gates_of = plan.gates_of
        cycle_of = plan.cycle_of
        in_specs = plan.in_specs
        need = []
        for m in members:
            gates = gates_of[m]
            decided = False
            first_entry = m == entry and ran[m] == 0
            if gates:
                for g in gates:
                    if decision[g] == m:
                        decided = True
                        break
                if not decided and not first_entry:
                    for g in gates:
                        if cycle_of[g] == c or can[g]:
                            break
                    else:
                        continue  # (ii): no decision and no gate left to give one
            ok = True
            for name, outside, inside, has_default, _ in in_specs[m]:
                if has_default or inside or name in values:
                    continue
                for p in outside:
                    if can[p]:
                        break
                else:
                    ok = False
                    break
            if not ok:
                continue  # (iii)
            can[m] = True
            if first_entry:
                need.append(m)
            elif gates:
                if decided:
                    need.append(m)
            else:
                read = self.read[m]
                for name, *_ in in_specs[m]:
                    if node_ver.get(name, 0) > read.get(name, 0):
                        need.append(m)
                        break
        if not need:
            self.cycle_finished[c] = True
            for m in members:
                can[m] = False
            return
        for m in need:
            if self._rule1(m, can):
                ready.append(m)

    def _has_decision(self, i: int) -> bool:
        decision = self.decision
        for g in self.plan.gates_of[i]:
            if decision[g] == i:
                return True
        return False

    def _gate_ok(self, i: int, can: list[bool], c: int) -> bool:
        """Rule (ii): a gated node can still run while a decision or a live gate exists."""
        gates = self.plan.gates_of[i]
        if not gates or self._has_decision(i):
            return True
        if c >= 0 and self.ran[i] == 0 and self.plan.entry_of[c] == i:
            return True
        cycle_of = self.plan.cycle_of
        for g in gates:
            if (c >= 0 and cycle_of[g] == c) or can[g]:
                return True
        return False

    def _inputs_ok(self, i: int, can: list[bool], alive: bool) -> bool:
        """Rule (iii): every input has a value or a producer that can still run."""
        values = self.values
        for name, outside, inside, has_default, _ in self.plan.in_specs[i]:
            if has_default or name in values:
                continue
            if (inside and alive) or any(can[p] for p in outside):
                continue
            return False
        return True

    def _rule1(self, i: int, can: list[bool]) -> bool:
        """Every input has a value and no producer outside the node's cycle can still run."""
        values = self.values
        for name, outside, _inside, has_default, _ in self.plan.in_specs[i]:
            if not (has_default or name in values):
                return False
            for p in outside:
                if can[p]:
                    return False
        return True

"""``Graph``: nodes wired by name, analysed once at construction.

Construction infers the data edges (output name -> consumers) and the control
edges (gate -> targets), finds the cycles (strongly connected components of more
than one node), picks one entrypoint per cycle, works out the graph inputs and
checks every rule of docs/runtime.md, raising ``GraphConfigError``. The result
is a ``Plan``: flat per-node tuples the runner reads on every superstep.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ._errors import GraphConfigError, how_to_fix
from ._nodes import END, FunctionNode, RouteNode, check_name

__all__ = ["Graph", "InputSpec", "Plan"]


@dataclass(frozen=True, slots=True)
class InputSpec:
    """A graph's inputs: ``required`` and ``optional`` names (``all`` = both)."""

    required: tuple[str, ...]
    optional: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        return self.required + self.optional

    def __contains__(self, name: object) -> bool:
        return name in self.required or name in self.optional


def _fail(problem: str, fix: str) -> GraphConfigError:
    return GraphConfigError(how_to_fix(problem, fix))


def _same_default(a: Any, b: Any) -> bool:
    try:
        return a is b or bool(a == b)
    except Exception:
        return False


class Plan:
    """Per-node tables for the runner, indexed by the node's position in the list."""

    __slots__ = (
        "nodes",
        "names",
        "n",
        "is_gate",
        "is_async",
        "params",
        "in_specs",
        "gates_of",
        "targets_of",
        "cycle_of",
        "cycles",
        "entry_of",
        "order",
        "self_inputs",
        "levels",
    )


def _strongly_connected(n: int, adj: list[list[int]]) -> list[list[int]]:
    """Tarjan's algorithm, iterative; each component sorted by list position."""
    index = [0] * n
    low = [0] * n
    seen = [False] * n
    on_stack = [False] * n
    stack: list[int] = []
    comps: list[list[int]] = []
    counter = 1
    for root in range(n):
        if seen[root]:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                seen[v] = True
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack[v] = True
            if i < len(adj[v]):
                work.append((v, i + 1))
                w = adj[v][i]
                if not seen[w]:
                    work.append((w, 0))
                elif on_stack[w]:
                    low[v] = min(low[v], index[w])
                continue
            for w in adj[v]:
                if on_stack[w] and index[w] > index[v]:
                    low[v] = min(low[v], low[w])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp.append(w)
                    if w == v:
                        break
                comps.append(sorted(comp))
    return comps


class Graph:
    """An immutable graph of nodes; edges are inferred from parameter and output names.

    ``Graph(nodes, *, name=None, entrypoint=None)``: ``entrypoint`` is a node name,
    or a tuple of names (one per cycle); cycles without one get an inferred one.
    """

    def __init__(
        self,
        nodes: Iterable[Any],
        *,
        name: str | None = None,
        entrypoint: str | tuple[str, ...] | list[str] | None = None,
    ) -> None:
        self._name = "graph" if name is None else name
        if not isinstance(self._name, str) or not self._name:
            raise _fail(f"graph name {name!r} is not a non-empty string", "pass name='my_graph'")
        self._node_list = self._check_items(nodes)
        self._given_entrypoint = entrypoint
        self._bound: dict[str, Any] = {}
        self._analyse()

    # --- public surface -------------------------------------------------------

    @property
    def name(self) -> str:
        """The graph's name (``"graph"`` unless given)."""
        return self._name

    @property
    def nodes(self) -> MappingProxyType:
        """Node name -> node, in list order."""
        return self._nodes

    @property
    def outputs(self) -> tuple[str, ...]:
        """Every output name, in node order."""
        return self._outputs

    @property
    def inputs(self) -> InputSpec:
        """Graph inputs: ``required`` and ``optional`` names."""
        return self._inputs

    @property
    def defaults(self) -> dict[str, Any]:
        """Optional input name -> its default (a ``bind`` value for bound names). A copy."""
        return dict(self._defaults)

    @property
    def input_types(self) -> dict[str, Any]:
        """Input name -> the consumers' annotation (resolved when possible) or ``None``."""
        return dict(self._input_types)

    @property
    def bound(self) -> dict[str, Any]:
        """Values fixed with ``bind`` (a copy)."""
        return dict(self._bound)

    @property
    def entrypoints(self) -> tuple[str, ...]:
        """One entrypoint per cycle, given or inferred, in cycle order."""
        return self._entrypoints

    @property
    def has_cycles(self) -> bool:
        return bool(self._plan.cycles)

    def bind(self, **values: Any) -> Graph:
        """A new graph with these inputs fixed (they become optional)."""
        accepted = set(self._inputs.all) | set(self._bound)
        wrong = [k for k in values if k not in accepted]
        if wrong:
            raise ValueError(
                f"cannot bind {wrong} on graph {self._name!r}: not graph inputs. "
                f"The inputs are {sorted(accepted)}.\nHow to fix: bind only those names."
            )
        clone = object.__new__(Graph)
        clone.__dict__.update(self.__dict__)
        clone._bound = {**self._bound, **values}
        clone._compute_inputs()
        return clone

    def with_entrypoint(self, *names: str) -> Graph:
        """A new graph with these entrypoints (one per cycle)."""
        clone = Graph(self._node_list, name=self._name, entrypoint=tuple(names))
        if self._bound:
            clone = clone.bind(**self._bound)
        return clone

    def __repr__(self) -> str:
        return f"<Graph {self._name!r} nodes={list(self._nodes)}>"

    # --- construction -----------------------------------------------------------

    @staticmethod
    def _check_items(nodes: Iterable[Any]) -> tuple:
        if isinstance(nodes, (FunctionNode, RouteNode)) or not hasattr(nodes, "__iter__"):
            raise _fail(
                f"Graph expects a list of nodes, got {nodes!r}", "pass a list: Graph([a, b])"
            )
        items = tuple(nodes)
        for item in items:
            if isinstance(item, (FunctionNode, RouteNode)):
                continue
            label = getattr(item, "__name__", repr(item))
            fix = (
                f"decorate {label!r} with @node(output_name=...) (or @route for a gate)"
                if callable(item)
                else "pass only @node / @route decorated functions"
            )
            raise _fail(f"item {label!r} in Graph([...]) is not a node", fix)
        seen: dict[str, Any] = {}
        for item in items:
            check_name(
                "node name", item.name, "graph", "rename the node with name=", GraphConfigError
            )
            if item.name in seen:
                raise _fail(
                    f"two nodes are named {item.name!r}",
                    "give one of them another name: @node(..., name='other_name')",
                )
            seen[item.name] = item
        if not items:
            raise _fail("Graph([]) has no nodes", "pass at least one node")
        return items

    def _analyse(self) -> None:
        nodes = self._node_list
        n = len(nodes)
        self._nodes = MappingProxyType({nd.name: nd for nd in nodes})
        index = {nd.name: i for i, nd in enumerate(nodes)}
        is_gate = [isinstance(nd, RouteNode) for nd in nodes]
        producers: dict[str, list[int]] = {}
        outputs: list[str] = []
        for i, nd in enumerate(nodes):
            for out in nd.outputs:
                producers.setdefault(out, []).append(i)
                if out not in outputs:
                    outputs.append(out)
        self._outputs = tuple(outputs)
        self._producers = {k: tuple(v) for k, v in producers.items()}
        targets_of = self._check_routes(index, is_gate)
        adj: list[list[int]] = [[] for _ in range(n)]
        for i, nd in enumerate(nodes):
            for name in nd.inputs:
                for p in producers.get(name, ()):
                    if p != i and i not in adj[p]:
                        adj[p].append(i)
        for g, ts in enumerate(targets_of):
            for t in ts:
                if t not in adj[g]:
                    adj[g].append(t)
        self._adj = adj
        comps = _strongly_connected(n, adj)
        cycles = [c for c in comps if len(c) > 1]
        cycles.sort(key=lambda c: c[0])
        cycle_of = [-1] * n
        for ci, members in enumerate(cycles):
            for m in members:
                cycle_of[m] = ci
        self._check_cycles(cycles, is_gate)
        entry_of = self._choose_entrypoints(cycles, cycle_of, index, is_gate, targets_of)
        self._check_producers(index, is_gate, targets_of)
        self._entrypoints = tuple(nodes[e].name for e in entry_of)
        self._build_plan(comps, cycles, cycle_of, entry_of, is_gate, targets_of)
        self._compute_inputs()

    def _check_routes(self, index: dict[str, int], is_gate: list[bool]) -> list[tuple[int, ...]]:
        targets_of: list[tuple[int, ...]] = []
        for i, nd in enumerate(self._node_list):
            if not is_gate[i]:
                targets_of.append(())
                continue
            ts = []
            for t in nd.targets:
                if t is END:
                    continue
                if t == nd.name:
                    raise _fail(
                        f"gate {nd.name!r} targets itself",
                        "route to the node(s) that should run next, or END",
                    )
                if t not in index:
                    raise _fail(
                        f"gate {nd.name!r} targets unknown node {t!r}; the graph's nodes are "
                        f"{list(index)}",
                        f"add a node named {t!r} to the graph, or fix the target name",
                    )
                ts.append(index[t])
            targets_of.append(tuple(ts))
        return targets_of

    def _check_cycles(self, cycles: list[list[int]], is_gate: list[bool]) -> None:
        for members in cycles:
            names = [self._node_list[m].name for m in members]
            gates = [m for m in members if is_gate[m]]
            if len(gates) == len(members):
                raise _fail(
                    f"gates {names} form a cycle made only of gates",
                    "put at least one node between the gates; a gate only decides",
                )
            if not gates:
                raise _fail(
                    f"nodes {names} form a cycle with no gate; every write is a new version, "
                    "so it could only end by max_iterations",
                    "add a @route gate to the cycle that returns END when the loop is done",
                )

    def _choose_entrypoints(
        self,
        cycles: list[list[int]],
        cycle_of: list[int],
        index: dict[str, int],
        is_gate: list[bool],
        targets_of: list[tuple[int, ...]],
    ) -> list[int]:
        given = self._given_entrypoint
        if isinstance(given, str):
            given = (given,)
        entry_of: list[int | None] = [None] * len(cycles)
        for name in given or ():
            if name not in index:
                raise _fail(
                    f"entrypoint {name!r} is not a node of the graph (nodes: {list(index)})",
                    "name one of the graph's nodes",
                )
            i = index[name]
            if is_gate[i]:
                raise _fail(
                    f"entrypoint {name!r} is a gate", "name the first (non-gate) node of the cycle"
                )
            c = cycle_of[i]
            if c < 0:
                raise _fail(
                    f"entrypoint {name!r} is in no cycle",
                    "entrypoints only choose where a cycle starts; drop it or name a cycle member",
                )
            if entry_of[c] is not None:
                other = self._node_list[entry_of[c]].name
                raise _fail(
                    f"entrypoints {other!r} and {name!r} are in the same cycle",
                    "give one entrypoint per cycle",
                )
            entry_of[c] = i
        for c, members in enumerate(cycles):
            if entry_of[c] is not None:
                continue
            mset = set(members)
            back = {t for g in members if is_gate[g] for t in targets_of[g] if t in mset}
            if len(back) == 1 and not is_gate[next(iter(back))]:
                entry_of[c] = next(iter(back))
            else:
                entry_of[c] = next(m for m in members if not is_gate[m])
        return [e for e in entry_of if e is not None]

    def _branch_reach(self, gate: int, target: int, gated: set[int]) -> set[int]:
        """Nodes that choosing ``target`` can set running before ``gate`` decides again.

        Walks from ``target`` without passing through ``gate``, and enters a gated node
        only through a gate's control edge: a data edge never runs a gated node (it needs
        a decision), so a loop closing back into the gate's other targets does not join
        the branches.
        """
        is_gate = self._is_gate
        seen = {target}
        todo = [target]
        while todo:
            v = todo.pop()
            for w in self._adj[v]:
                if w == gate or w in seen or (w in gated and not is_gate[v]):
                    continue
                seen.add(w)
                todo.append(w)
        return seen

    def _check_producers(
        self, index: dict[str, int], is_gate: list[bool], targets_of: list[tuple[int, ...]]
    ) -> None:
        gated = {t for ts in targets_of for t in ts}
        self._is_gate = is_gate
        for name, prods in self._producers.items():
            if len(prods) < 2:
                continue
            if any(
                self._exclusive_branches(g, targets_of[g], prods, gated)
                for g in range(len(is_gate))
            ):
                continue
            names = [self._node_list[p].name for p in prods]
            raise _fail(
                f"nodes {names} all produce {name!r}, and they are not in different branches "
                "of one gate, so more than one could write it",
                "rename one output (output_name=...), or put the producers behind one @route "
                "gate so only one runs per decision",
            )

    def _exclusive_branches(
        self, gate: int, targets: tuple[int, ...], prods: tuple, gated: set[int]
    ) -> bool:
        if len(targets) < 2:
            return False
        reach = {t: self._branch_reach(gate, t, gated) for t in targets}
        used: set[int] = set()
        for p in prods:
            branches = [t for t in targets if p in reach[t]]
            if len(branches) != 1 or branches[0] in used:
                return False
            used.add(branches[0])
        return True

    def _build_plan(
        self,
        comps: list[list[int]],
        cycles: list[list[int]],
        cycle_of: list[int],
        entry_of: list[int],
        is_gate: list[bool],
        targets_of: list[tuple[int, ...]],
    ) -> None:
        nodes = self._node_list
        n = len(nodes)
        plan = Plan()
        plan.nodes = nodes
        plan.names = tuple(nd.name for nd in nodes)
        plan.n = n
        plan.is_gate = tuple(is_gate)
        plan.is_async = tuple(nd.is_async for nd in nodes)
        plan.params = tuple(nd._params for nd in nodes)
        plan.targets_of = tuple(targets_of)
        gates_of: list[list[int]] = [[] for _ in range(n)]
        for g, ts in enumerate(targets_of):
            for t in ts:
                gates_of[t].append(g)
        plan.gates_of = tuple(tuple(g) for g in gates_of)
        plan.cycle_of = tuple(cycle_of)
        plan.cycles = tuple(tuple(c) for c in cycles)
        plan.entry_of = tuple(entry_of)
        in_specs = []
        for i, nd in enumerate(nodes):
            specs = []
            for name in nd.inputs:
                prods = [p for p in self._producers.get(name, ()) if p != i]
                inside = tuple(p for p in prods if cycle_of[i] >= 0 and cycle_of[p] == cycle_of[i])
                outside = tuple(p for p in prods if p not in inside)
                has_default = name in nd.defaults
                specs.append((name, outside, inside, has_default, nd.defaults.get(name)))
            in_specs.append(tuple(specs))
        plan.in_specs = tuple(in_specs)
        plan.self_inputs = tuple(tuple(o for o in nd.outputs if o in nd.inputs) for nd in nodes)
        plan.order = self._topological_components(comps, cycle_of)
        plan.levels = self._dag_levels(plan) if not cycles and not any(is_gate) else None
        self._plan = plan

    def _topological_components(self, comps: list[list[int]], cycle_of: list[int]) -> tuple:
        """Components in topological order (ties by list position): node index or ("c", i)."""
        comp_of = {}
        for ci, comp in enumerate(comps):
            for v in comp:
                comp_of[v] = ci
        indeg = [0] * len(comps)
        succ: list[set[int]] = [set() for _ in comps]
        for v, ws in enumerate(self._adj):
            for w in ws:
                a, b = comp_of[v], comp_of[w]
                if a != b and b not in succ[a]:
                    succ[a].add(b)
                    indeg[b] += 1
        heap = [(comps[c][0], c) for c in range(len(comps)) if indeg[c] == 0]
        heapq.heapify(heap)
        order = []
        while heap:
            _, c = heapq.heappop(heap)
            comp = comps[c]
            order.append(("c", cycle_of[comp[0]]) if len(comp) > 1 else comp[0])
            for d in succ[c]:
                indeg[d] -= 1
                if indeg[d] == 0:
                    heapq.heappush(heap, (comps[d][0], d))
        return tuple(order)

    @staticmethod
    def _dag_levels(plan: Plan) -> tuple[tuple[int, ...], ...]:
        """For a DAG without gates: supersteps are fixed, level = 1 + deepest producer."""
        level = [0] * plan.n
        for v in plan.order:
            deps = [p for spec in plan.in_specs[v] for p in spec[1]]
            level[v] = 1 + max((level[p] for p in deps), default=-1)
        depth = max(level) + 1
        return tuple(tuple(i for i in range(plan.n) if level[i] == d) for d in range(depth))

    def _compute_inputs(self) -> None:
        """Graph inputs from the node signatures, the cycles' seeds and ``bind``."""
        plan = self._plan
        nodes = self._node_list
        candidates: dict[str, list[int]] = {}
        for i, nd in enumerate(nodes):
            for name in nd.inputs:
                others = [p for p in self._producers.get(name, ()) if p != i]
                if not others:
                    candidates.setdefault(name, []).append(i)
        seeds: dict[str, int] = {}
        for c, members in enumerate(plan.cycles):
            entry = plan.entry_of[c]
            mset = set(members)
            for name in nodes[entry].inputs:
                if any(p in mset and p != entry for p in self._producers.get(name, ())):
                    seeds.setdefault(name, entry)
        required: list[str] = []
        optional: list[str] = []
        defaults: dict[str, Any] = {}
        types: dict[str, Any] = {}
        for name, consumers in candidates.items():
            with_default = [i for i in consumers if name in nodes[i].defaults]
            for i in consumers:
                ann = nodes[i].input_annotations.get(name)
                if ann is not None and name not in types:
                    types[name] = ann
            types.setdefault(name, None)
            if len(with_default) == len(consumers):
                first = nodes[with_default[0]].defaults[name]
                for i in with_default[1:]:
                    if not _same_default(first, nodes[i].defaults[name]):
                        raise _fail(
                            f"nodes {nodes[with_default[0]].name!r} and {nodes[i].name!r} both "
                            f"take graph input {name!r} with different defaults "
                            f"({first!r} vs {nodes[i].defaults[name]!r})",
                            "give both the same default, or rename one parameter "
                            "(rename_inputs=...)",
                        )
                optional.append(name)
                defaults[name] = first
            else:
                required.append(name)
        for name, entry in seeds.items():
            if name not in required and name not in optional:
                required.append(name)
                types.setdefault(name, nodes[entry].input_annotations.get(name))
        self._seeds = frozenset(seeds)
        self._seed_entry = {name: nodes[entry].name for name, entry in seeds.items()}
        for name, value in self._bound.items():
            if name in required:
                required.remove(name)
                optional.append(name)
            defaults[name] = value
        self._inputs = InputSpec(tuple(required), tuple(optional))
        self._accepted = frozenset(required) | frozenset(optional)
        self._required = frozenset(required)
        self._defaults = defaults
        self._input_types = types

"""C6 with real (evaluated) annotation objects: no `from __future__ import annotations`."""

# ruff: noqa: UP007, UP045  (the old typing forms are what is being tested)
import typing
from typing import Optional, Union

from hypergraph import NodeContext, node


def test_c6_class_and_optional_objects_detected():
    @node(output_name="a")
    async def by_class(x: int, anyname: NodeContext):
        return x

    @node(output_name="a")
    async def by_optional(x: int, c: Optional[NodeContext] = None):
        return x

    @node(output_name="a")
    async def by_union(x: int, c: Union[NodeContext, None] = None):
        return x

    @node(output_name="a")
    def by_pipe(x: int, c: NodeContext | None = None):
        return x

    @node(output_name="a")
    def by_string(x: int, c: "NodeContext"):
        return x

    for n in (by_class, by_optional, by_union, by_pipe, by_string):
        assert n.inputs == ("x",), n
    assert by_class.ctx_param == "anyname"


def test_c6_input_annotations_are_resolved_objects():
    @node(output_name="a")
    def f(x: list, y: "int | None" = None):
        return x

    assert f.input_annotations == {"x": list, "y": typing.Optional[int]}  # noqa: UP045


def test_c6_aliased_context_class_in_string_annotation():
    namespace: dict = {}
    exec(
        "from __future__ import annotations\n"
        "from hypergraph import NodeContext as Ctx, node\n"
        "@node(output_name='a')\n"
        "async def f(x, c: Ctx):\n"
        "    return x\n",
        namespace,
    )
    assert namespace["f"].inputs == ("x",) and namespace["f"].ctx_param == "c"


def test_c6_optional_of_forward_ref_context_is_detected():
    """C6: ``Optional["NodeContext"]`` (a ForwardRef inside Optional) marks the context
    parameter; it never becomes a graph input."""
    from hypergraph import Graph

    def a(x, ctx: Optional["NodeContext"]):  # noqa: F821 - the forward reference under test
        return x

    def b(x, ctx: Union["NodeContext", None] = None):  # noqa: F821
        return x

    na, nb = node(output_name="o")(a), node(output_name="o")(b)
    assert na.inputs == ("x",) and na.ctx_param == "ctx"
    assert nb.inputs == ("x",) and nb.ctx_param == "ctx"
    assert Graph([na]).inputs.required == ("x",)

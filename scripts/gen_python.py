"""Generate the Python protobuf/gRPC/Connect code into hypergraph_grpc/gen.

grpc_tools (pinned in pyproject.toml) is the compiler, so the output only
depends on the pinned version. The Connect stubs (``*_connect.py``) come from
protoc-gen-connectrpc (also pinned), run by buf as a local plugin
(protos/buf.gen.python.yaml). The generated modules import each other as
``hypergraph.v1``, which would collide with our runtime package ``hypergraph``;
we rewrite those imports to ``hypergraph_grpc.gen.hypergraph.v1``.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "hypergraph_grpc" / "gen"
BUF = PROTOS / "node_modules" / ".bin" / "buf"
IMPORT = re.compile(r"^from hypergraph\.v1 import", re.MULTILINE)


def main() -> int:
    target = OUT / "hypergraph"
    if target.exists():
        shutil.rmtree(target)
    OUT.mkdir(parents=True, exist_ok=True)
    well_known = pathlib.Path(protoc.__file__).parent / "_proto"
    files = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.glob("hypergraph/v1/*.proto"))
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{well_known}",
        f"--python_out={OUT}",
        f"--pyi_out={OUT}",
        f"--grpc_python_out={OUT}",
        *files,
    ]
    if protoc.main(args) != 0:
        print("protoc failed", file=sys.stderr)
        return 1
    connect = [str(BUF), "generate", "--template", "buf.gen.python.yaml"]
    if subprocess.run(connect, cwd=PROTOS).returncode != 0:
        print("buf generate (protoc-gen-connectrpc) failed", file=sys.stderr)
        return 1
    for path in target.rglob("*.py*"):
        text = path.read_text()
        fixed = IMPORT.sub("from hypergraph_grpc.gen.hypergraph.v1 import", text)
        if fixed != text:
            path.write_text(fixed)
    for pkg in (OUT, target, target / "v1"):
        (pkg / "__init__.py").touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared by every Python test: make the repository root importable.

`python -m pytest` (what `make test` runs) already puts the working directory on
sys.path; this keeps the bare `pytest` entry point working too.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

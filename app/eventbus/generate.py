"""Writes the Python stubs of pubsub_api.proto beside it (run after editing the .proto; the output is committed).

Committed rather than generated at install time: Heroku's buildpack and `pip install .` then need no
protoc, and grpcio-tools stays a development dependency. tests/eventbus regenerates and compares.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTO = "app/eventbus/pubsub_api.proto"


def generate_stubs(out_dir: Path) -> list[Path]:
    """Runs protoc (from grpcio-tools) on the .proto into `out_dir`/app/eventbus; returns the files written."""
    from grpc_tools import protoc

    (out_dir / "app" / "eventbus").mkdir(parents=True, exist_ok=True)
    status = protoc.main(
        [
            "protoc",
            f"-I{ROOT}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            PROTO,
        ]
    )
    if status != 0:
        raise RuntimeError(f"protoc failed with status {status}")
    return sorted((out_dir / "app" / "eventbus").glob("pubsub_api_pb2*"))


if __name__ == "__main__":
    for path in generate_stubs(ROOT):
        print(path.relative_to(ROOT))
    sys.exit(0)

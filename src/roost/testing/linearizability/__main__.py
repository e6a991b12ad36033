"""``python -m roost.testing.linearizability FILE... --model MODEL``

FILE is a history saved by ``History.save`` (``*.jsonl``, any model), a Jepsen etcd log
(``--model register``) or an EDN key-value history (``--model kv``). Prints each file's
verdict. On a violation it also prints the small failing sub-history
and writes its timeline to ``<dir>/<file stem>-violation.html`` (or ``.svg``).
Exit status: 0 all linearizable, 1 some violation, 2 some check timed out.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from roost.testing.history import Operation, load_events, operations_from_events
from roost.testing.linearizability.checker import check
from roost.testing.linearizability.model import Model
from roost.testing.linearizability.models import KVModel, RegisterModel
from roost.testing.linearizability.parsers import parse_edn_kv, parse_jepsen_etcd
from roost.testing.linearizability.verdict import Verdict
from roost.testing.linearizability.zkmodels import ChildrenModel, LockModel, ZnodeModel

_MODELS: dict[str, Callable[[], Model]] = {
    "register": RegisterModel,
    "kv": KVModel,
    "znode": ZnodeModel,
    "children": ChildrenModel,
    "lock": LockModel,
}
_JEPSEN_PARSERS = {"register": parse_jepsen_etcd, "kv": parse_edn_kv}


def _read(path: Path, model: str) -> list[Operation]:
    if path.suffix == ".jsonl":
        return operations_from_events(load_events(path))
    parse = _JEPSEN_PARSERS.get(model)
    if parse is None:
        raise SystemExit(f"{path}: only saved histories (.jsonl) can be checked with {model}")
    return parse(path)


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m roost.testing.linearizability",
        description="Check Jepsen-format histories for linearizability.",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--model", choices=sorted(_MODELS), required=True,
                   help="for files other than .jsonl: register = Jepsen etcd log lines, "
                   "kv = EDN get/put/append maps")
    p.add_argument("--timeout", type=float, default=None, help="seconds per file")
    p.add_argument("--out", type=Path, default=Path("."), help="where timelines go")
    p.add_argument("--format", choices=("html", "svg"), default="html")
    p.add_argument("--quiet", action="store_true", help="verdicts only")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _args(argv)
    new_model = _MODELS[args.model]
    status = 0
    times: list[tuple[float, Path]] = []
    for path in args.files:
        ops = _read(path, args.model)
        result = check(ops, new_model(), args.timeout, minimize=not args.quiet)
        times.append((result.elapsed, path))
        print(f"{path}: {result.verdict.value} ({result.elapsed:.3f} s)")
        if result.verdict is Verdict.UNKNOWN:
            status = max(status, 2)
        elif result.verdict is Verdict.NOT_LINEARIZABLE:
            status = max(status, 1)
            if not args.quiet:
                print(result.report())
                out = args.out / f"{path.stem}-violation.{args.format}"
                written = result.write_html(out) if args.format == "html" else result.write_svg(out)
                print(f"timeline: {written}")
    if len(times) > 1:
        slowest = max(times)
        total = sum(t for t, _ in times)
        print(f"{len(times)} files in {total:.3f} s; slowest {slowest[1]} ({slowest[0]:.3f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())

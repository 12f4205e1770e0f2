"""Input side of the CLI: models, hardware and options that need more than argparse to check
(templates against the model's layer types, storage URLs, Dask schedulers), and warnings about
inputs that are accepted but probably not what the user meant."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

from costmodel import Hardware, Network
from costmodel.errors import MaestroInputError
from mapper.search.strategies import STRATEGIES
from mapper.search.strategies.base import RESUME_STORAGE
from mapper.search.strategies.registry import strategy_class

#: strategies that resume from a state file rather than an Optuna storage (no --storage)
NATIVE_STRATEGIES = tuple(s for s in STRATEGIES if strategy_class(s).resume != RESUME_STORAGE)
SCHEDULER_TIMEOUT = 3.0  # seconds to reach a Dask scheduler before giving up


def _usage(message: str) -> MaestroInputError:
    return MaestroInputError(message, rule="usage")


def warn(command: str, message: str) -> None:
    """One warning line on stderr."""
    print(f"mapper {command}: warning: {message}", file=sys.stderr)


def load_model(spec: str, command: str = "tune") -> Network:
    """A zoo model or model file; a YAML file that is not UTF-8 is a clear error; an ONNX
    model's import notes (symbolic dimensions taken as 1, ...) and skipped nodes are warned."""
    from costmodel.io.yaml_io import read_yaml_text
    from mapper.workloads.presets import resolve_model

    suffix = Path(spec).suffix.lower()
    if suffix in (".yaml", ".yml") and Path(spec).is_file():
        read_yaml_text(spec)
    if suffix == ".m":  # its layers to tune: a dataflow that breaks a rule is only dropped
        from costmodel.io.maestro import load_workload

        network, dropped = load_workload(spec)
        for name, err in dropped[:3]:
            warn(command, f"layer {name}: its stated dataflow is left out ({err}); the layer "
                 "is tuned without it")
        if len(dropped) > 3:
            warn(command, f"... and the stated dataflows of {len(dropped) - 3} more layer(s) "
                 f"({', '.join(n for n, _ in dropped[3:8])}{', ...' if len(dropped) > 8 else ''})")
        return network
    if suffix == ".onnx":
        from mapper.workloads.onnx_import import convert_onnx

        res = convert_onnx(spec)
        for note in res.notes:
            warn(command, f"{spec}: {note}")
        if res.skipped:
            warn(command, f"{spec}: {len(res.skipped)} node(s) without MACs to map skipped "
                 f"(e.g. {', '.join(res.skipped[:3])}); `mapper import-onnx` lists them all")
        if not res.network.layers:
            raise MaestroInputError("no Conv, Gemm or MatMul node to map", source=spec,
                                    rule="empty-model")
        return res.network
    return resolve_model(spec)


def select_layers(network: Network, spec: str | None) -> Network:
    """The layers ``spec`` names, in the model's order: comma-separated layer names, 1-based
    positions or ranges of them (``--layers 1,3-5,CONV2_1_2``; GAMMA's ``--singlelayer N`` is
    ``--layers N``)."""
    import dataclasses

    if not spec:
        return network
    names = [layer.name for layer in network.layers]
    keep: set[int] = set()
    for part in (x.strip() for x in spec.split(",")):
        lo, dash, hi = part.partition("-")
        if part in names:
            keep.update(i for i, n in enumerate(names) if n == part)
        elif part.isdigit() or (dash and lo.strip().isdigit() and hi.strip().isdigit()):
            a, b = int(lo), int(hi) if dash else int(lo)
            if not 1 <= a <= b <= len(names):
                raise _usage(f"--layers {part!r}: positions run from 1 to {len(names)}")
            keep.update(range(a - 1, b))
        else:
            raise _usage(f"--layers {part!r}: not a layer of {network.name} (names: "
                         f"{', '.join(names[:6])}{', ...' if len(names) > 6 else ''}; or "
                         "1-based positions such as 3 or 2-5)")
    return dataclasses.replace(network, layers=[network.layers[i] for i in sorted(keep)])


def load_hardware(spec: str | None, overrides: list[str] | tuple[str, ...] = ()) -> Hardware:
    """A hardware preset or a .m/.yaml hardware file (the default preset for None), with
    ``FIELD=VALUE`` overrides (``--hw-set num_pes=256``) checked like the file's fields."""
    from mapper.workloads.presets import resolve_hardware

    return with_fields(resolve_hardware(spec), overrides)


def with_fields(hw: Hardware, overrides: list[str] | tuple[str, ...]) -> Hardware:
    """``hw`` with ``FIELD=VALUE`` overrides (``--hw-set``), checked like a file's fields."""
    import dataclasses

    if not overrides:
        return hw
    fields = [f.name for f in dataclasses.fields(Hardware)]
    changes = {}
    for item in overrides:
        name, eq, text = item.partition("=")
        name = name.strip()
        if not eq or name not in fields:
            raise _usage(f"--hw-set {item!r}: expected FIELD=VALUE with FIELD one of "
                         f"{', '.join(fields)}")
        try:
            value = float(text) if name == "clock_ghz" else int(text)
        except ValueError:
            kind = "a number" if name == "clock_ghz" else "an integer"
            raise _usage(f"--hw-set {item!r}: {name} must be {kind}") from None
        changes[name] = value
    return dataclasses.replace(hw, **changes)


def network_warnings(network: Network) -> list[str]:
    """Accepted but suspicious: repeated layer names, names with undecodable bytes."""
    out, seen = [], set()
    for layer in network.layers:
        if layer.name in seen:
            out.append(f"layer name {layer.name!r} appears more than once; results for these "
                       "layers are told apart only by their order")
        seen.add(layer.name)
    names = [network.name] + [layer.name for layer in network.layers]
    bad = [n for n in names if "\ufffd" in n]
    if bad:
        out.append(f"name(s) {', '.join(map(repr, bad))} contain bytes that are not UTF-8 "
                   "(shown as \ufffd)")
    return out


def check_template(network: Network, hw: Hardware, template: str | None, strategy: str,
                   max_levels: int) -> None:
    """The template exists for every layer type of the model, and exhaustive search has an
    enumerable space, checked before any search starts."""
    from search_spaces.templates import make_space

    try:
        from search_spaces.enumeration import is_enumerable
    except ImportError:  # enumeration as a MappingSpace method
        def is_enumerable(space) -> bool:
            return space.is_enumerable()

    by_type = {}
    for layer in network.layers:
        by_type.setdefault(layer.type, layer)
    for layer in by_type.values():
        try:
            space = make_space(layer, hw, template, max_levels=max_levels)
        except ValueError as e:
            raise _usage(f"--template {template}: {e}") from None
        if strategy == "exhaustive" and not is_enumerable(space):
            raise _usage("--strategy exhaustive needs an enumerable space: give --template "
                         "(e.g. kcp_ws, or mnk for GEMM layers)")


def check_storage(url: str) -> None:
    """An Optuna storage URL that SQLAlchemy can open (dialect known)."""
    try:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError
    except ImportError:  # pragma: no cover - optuna depends on sqlalchemy
        return
    try:
        make_url(url).get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as e:
        raise _usage(f"--storage {url!r} is not a database URL SQLAlchemy can open "
                     f"({str(e).splitlines()[0]}); expected e.g. sqlite:///study.db or "
                     "postgresql://user@host/db") from None


def check_scheduler(address: str | None, timeout: float = SCHEDULER_TIMEOUT) -> None:
    """A Dask scheduler address that answers within ``timeout`` seconds (tcp/tls)."""
    if not address:
        raise _usage("--backend dask needs --scheduler ADDRESS (e.g. tcp://host:8786)")
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise _usage("--backend dask needs the 'distributed' package "
                     "(pip install 'dnn-mapper[dask]')") from None
    u = urlsplit(address if "://" in address else f"tcp://{address}")
    if u.scheme not in ("tcp", "tls"):
        return  # other transports: left to Dask
    try:
        host, port = u.hostname, u.port
    except ValueError:
        host = port = None
    if not host or not port:
        raise _usage(f"--scheduler {address!r}: expected tcp://HOST:PORT")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        raise _usage(f"--scheduler {address}: cannot connect "
                     f"({e.strerror or 'timed out'} after at most {timeout:g}s)") from None


def load_sparsity(spec: str | None, hw_spec: str | None, cost_model: str, network: Network,
                  command: str):
    """The accelerator's sparsity features (:class:`costmodel.sparsity.SparsityConfig`):
    ``--sparsity FILE`` (a YAML file of ``formats``/``compute``/``on``, or a hardware YAML
    with a ``sparsity`` key), else the ``sparsity`` key of a YAML ``--hw`` file; checked
    against every layer's densities. The maestro model is dense: there, densities and
    sparsity are ignored with one warning line (and None is returned)."""
    from costmodel.io.yaml_io import load_sparsity_yaml
    from costmodel.sparsity.density import layer_density
    from costmodel.sparsity.report import check_formats

    cfg = None
    if spec:
        if not Path(spec).is_file():
            raise _usage(f"--sparsity {spec!r}: no such file (expected a YAML file with "
                         "formats/compute/on, or a hardware YAML with a sparsity key)")
        cfg = load_sparsity_yaml(spec)
        if cfg is None:
            raise _usage(f"--sparsity {spec}: the file has no sparsity key and no "
                         "formats/compute/on")
    elif hw_spec and Path(hw_spec).suffix.lower() in (".yaml", ".yml") and Path(hw_spec).is_file():
        cfg = load_sparsity_yaml(hw_spec)
    if cost_model == "maestro":
        sparse = [layer.name for layer in network.layers if layer.density]
        if sparse or cfg is not None:
            what = f"densities of {len(sparse)} layer(s)" if sparse else "the sparsity features"
            warn(command, f"the maestro cost model is dense: {what} ignored "
                 "(--cost-model physical models them)")
        return None
    if cfg is not None:
        for layer in network.layers:
            check_formats(layer, layer_density(layer), cfg)
    elif any(layer.density for layer in network.layers):
        n = sum(1 for layer in network.layers if layer.density)
        warn(command, f"{n} layer(s) state densities but the hardware has no sparsity "
             "features: every zero is stored and computed (give --sparsity FILE, e.g. "
             "docs/examples/sparsity_nm_skip.yaml, or a sparsity key in a YAML --hw)")
    return cfg

"""Speed benchmark: relu_study side by side with scikit-learn, PyTorch and JAX.

Usage::

    python -m relu_study.bench                 # full run, a few minutes on an idle 2-core machine
    python -m relu_study.bench --quick         # fewer repeats and groups
    python -m relu_study.bench --json out.json --markdown out.md

Everything is measured in one process, side by side, so the printed ratios are
comparable: each variant is run once to warm up, then ``--repeats`` rounds run
every variant of an item in turn (interleaved, with a short pause between runs
so that spinning BLAS/OpenMP threads of one library go idle before the next).
A variant's time is the *best* of its rounds (the median is printed too):
the best round is the one least disturbed by other processes.  Ratios are the
median over rounds of the per-round ratio.

Items (see ``docs/performance.md`` for the figures and their discussion):

1. relu_study against scikit-learn's ``MLPClassifier`` (solver sgd, constant
   learning rate, no momentum, no L2, no early stopping, shuffling) on
   ``digits``, hidden (128, 128), batch 64, 20 epochs, probes off; float64
   and float32.
2. relu_study against PyTorch on the CPU, same architecture, loop and dtype
   (skipped with a message when torch is not installed; it is never a
   dependency of relu_study).
3. Probe overhead: the run of item 1 with the default probes (the probe
   schedule) against without, and with a probe every epoch
   (``probe.every=1``), per-unit tables and the exact ablation; the cost of
   each measure of one probe; and the epoch statistics' overhead: the
   default-probes run (epoch statistics on, the default) against the same run
   with ``epoch_stats=False``.
4. Seed groups: per-network time of S networks trained as one group against S
   sequential runs, for width 2 / depth 10 and width 32 / depth 3 on ``abs``;
   the epoch statistics' overhead at S = 256 (the group against the same
   group with ``epoch_stats=False``).
5. Large layers: matrix-product throughput of a width-1024 network's training
   run against NumPy's ``matmul`` on the same shapes.
6. JAX: the seed groups of item 4 (S = 256, probes off) against the same loop
   in JAX (``jit`` of ``vmap`` over networks, ``lax.scan`` over minibatches),
   same data, initial parameters, minibatch orders and dtype; steady state
   after compilation, compile time reported apart (skipped with a message when
   jax is not installed; never a dependency of relu_study).

relu_study's runs apply the entry points' BLAS-thread policy
(:mod:`relu_study.engine.process`: small networks on one thread), as the
command line does; the other libraries keep their defaults.  The header
reports the BLAS library and thread counts (threadpoolctl) and the CPU time
other processes used during the run.  The test suite runs the tiny size
(``--size tiny``) as a smoke test; it asserts nothing about timings.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings
from contextlib import contextmanager

import numpy as np

from .._version import __version__
from ..data import Dataset, load_dataset
from ..engine.network import MLP, seed_generator
from ..engine.optim import make_optimizer
from ..engine.probes import ProbeOptions
from ..engine.process import SMALL_STEP_MACS, blas_threads_for, retain_freed_memory
from ..engine.train import train

__all__ = ["SIZES", "TARGETS", "main", "run_benchmark"]

#: preset sizes: ``full`` is what the README figures come from
SIZES = {
    "full": dict(repeats=7, epochs=20, hidden=(128, 128), batch=64, probe_repeats=30, probe_rounds=21,
                 groups=(1, 16, 256, 1024), group_epochs=3, group_repeats=3, seq_runs=16,
                 group_probes=True, large_width=1024, large_samples=2560, large_epochs=2,
                 large_repeats=5, jax_networks=256, jax_repeats=3),
    "quick": dict(repeats=3, epochs=20, hidden=(128, 128), batch=64, probe_repeats=10, probe_rounds=7,
                  groups=(1, 16, 256), group_epochs=2, group_repeats=2, seq_runs=8,
                  group_probes=False, large_width=1024, large_samples=1280, large_epochs=1,
                  large_repeats=2, jax_networks=256, jax_repeats=2),
    "tiny": dict(repeats=1, epochs=1, hidden=(16, 16), batch=64, probe_repeats=1, probe_rounds=1,
                 groups=(1, 4), group_epochs=1, group_repeats=1, seq_runs=2,
                 group_probes=True, large_width=32, large_samples=160, large_epochs=1,
                 large_repeats=1, jax_networks=4, jax_repeats=1),
}

#: the issues' targets: (item key, comparison, bound)
TARGETS = {
    "sklearn": ("speed-up over scikit-learn", ">=", 1.5),
    "torch": ("speed-up over PyTorch (CPU)", ">=", 1.5),
    "probes": ("probe overhead, default probes", "<=", 0.10),
    "epoch_stats": ("epoch statistics overhead, default probes", "<=", 0.05),
    "epoch_stats_groups": ("epoch statistics overhead", "<=", 0.05),
    "groups": ("per-network speed-up, width 2 depth 10, S=256", ">=", 20.0),
    "groups32": ("per-network speed-up, width 32 depth 3, S=256", ">=", 8.0),
    "jax": ("per-network speed-up over JAX", ">=", 1.0),
    "jax_floor": ("per-network speed-up over JAX, floor (within 1.2x)", ">=", 1 / 1.2),
    "large": ("share of NumPy matmul throughput, width 1024", ">=", 0.60),
}

#: the variants of item 3: name -> probe setting
PROBE_VARIANTS = {
    "relu_study+probes": True,
    "relu_study+probes every epoch": ProbeOptions(every=1),
    "relu_study+probes+units": ProbeOptions(units=True),
    "relu_study+probes+ablation": ProbeOptions(ablation=True),
}
#: item 3's run without the epoch statistics (their overhead: default probes against this)
NO_EPOCH_STATS = "relu_study+probes, epoch_stats=False"

LR = 0.01


# ---------------------------------------------------------------- timing
def _measure(variants: dict, repeats: int, pause: float, warmup: bool = True) -> dict:
    """Interleaved rounds: ``{name: [seconds, ...]}``.  Each variant is a
    callable that sets itself up and returns the seconds of its timed part."""
    if warmup:
        for fn in variants.values():
            time.sleep(pause)
            fn()
    times = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            time.sleep(pause)
            times[name].append(fn())
    return times


def _best(ts) -> float:
    return float(min(ts))


def _median(ts) -> float:
    return float(statistics.median(ts))


def _ratio(numerator, denominator) -> float:
    """Median over rounds of ``numerator[r] / denominator[r]``: the variants of
    a round run seconds apart, so a drift in the machine's speed (another
    process, a noisy neighbour) cancels in each ratio, and a disturbed round is
    outvoted by the others."""
    return float(statistics.median(a / b for a, b in zip(numerator, denominator)))


@contextmanager
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# ------------------------------------------------------------ environment
def _cpu_times() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    values = [int(v) / ticks for v in fields[:8]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values)
    return total - idle, total


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def machine_load(seconds: float = 1.0) -> float | None:
    """Cores kept busy by the whole machine over ``seconds`` (before we start)."""
    a = _cpu_times()
    if a is None:
        return None
    own = _own_cpu()
    t0 = time.perf_counter()
    time.sleep(seconds)
    b = _cpu_times()
    wall = time.perf_counter() - t0
    return max(0.0, ((b[0] - a[0]) - (_own_cpu() - own)) / wall)


def environment(use_torch: bool = True, use_jax: bool = False) -> dict:
    from threadpoolctl import threadpool_info

    import scipy
    import sklearn

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    env = {k: v for k, v in os.environ.items()
           if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "GOTO", "BLIS_", "RELU_STUDY_"))}
    info = {
        "python": platform.python_version(), "platform": platform.platform(), "cpu": cpu,
        "cpu_count": os.cpu_count(), "usable_cpus": usable,
        "relu_study": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__, "torch": None, "torch_threads": None,
        "blas": [{k: d.get(k) for k in ("user_api", "internal_api", "version", "num_threads",
                                        "threading_layer", "architecture", "filepath")}
                 for d in threadpool_info()],
        "env": env,
        "small_step_macs": SMALL_STEP_MACS,
    }
    torch = _import_torch() if use_torch else None
    info["torch_used"] = use_torch
    jax = _import_jax() if use_jax else None
    info["jax_used"], info["jax"] = use_jax, None if jax is None else jax.__version__
    if torch is not None:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["torch_blas"] = "mkl" if torch.backends.mkl.is_available() else "other"
    return info


def _import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


# ---------------------------------------------------------------- runners
def _relu_study_run(data: Dataset, hidden, dtype, *, epochs, batch, probes=False, seeds=(0,), epoch_stats=True):
    """Build the networks and train them; seconds of both (construction
    included).  The run applies the entry points' BLAS-thread policy; the
    epoch statistics are on, as by default."""
    t0 = time.perf_counter()
    net = MLP(data.n_features, hidden, data.n_outputs, activation="relu", seeds=seeds, dtype=dtype)
    with blas_threads_for(net.sizes, batch):
        result = train(net, data, epochs=epochs, batch_size=batch, optimizer=make_optimizer("sgd", LR),
                       probes=probes, epoch_stats=epoch_stats)
    return time.perf_counter() - t0, result


def _sklearn_run(data: Dataset, hidden, dtype, *, epochs, batch):
    from sklearn.neural_network import MLPClassifier

    X, y = data.X_train.astype(dtype), data.y_train
    clf = MLPClassifier(hidden_layer_sizes=tuple(hidden), activation="relu", solver="sgd",
                        batch_size=batch, learning_rate="constant", learning_rate_init=LR,
                        momentum=0.0, nesterovs_momentum=False, alpha=0.0, max_iter=epochs,
                        shuffle=True, tol=0.0, n_iter_no_change=10**9, early_stopping=False,
                        random_state=0)
    t0 = time.perf_counter()
    with _quiet():  # ConvergenceWarning: max_iter reached, as intended
        clf.fit(X, y)
    elapsed = time.perf_counter() - t0
    return elapsed, {"n_iter": clf.n_iter_, "dtype": str(clf.coefs_[0].dtype)}


def _torch_run(torch, data: Dataset, hidden, dtype, *, epochs, batch):
    """The relu_study loop in PyTorch: per epoch a shuffled pass of minibatch SGD
    steps (cross-entropy, no momentum), the epoch's mean minibatch loss, and the
    validation loss and accuracy; at epoch 0 the losses before training."""
    tdtype = torch.float64 if np.dtype(dtype) == np.float64 else torch.float32
    X = torch.from_numpy(np.ascontiguousarray(data.X_train, dtype=dtype))
    y = torch.from_numpy(data.y_train.astype(np.int64))
    Xv = torch.from_numpy(np.ascontiguousarray(data.X_val, dtype=dtype))
    yv = torch.from_numpy(data.y_val.astype(np.int64))
    F = torch.nn.functional
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(0)
    sizes = [data.n_features, *hidden, data.n_outputs]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1], dtype=tdtype))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.0)
    n = len(X)
    history = []
    with torch.no_grad():
        history.append((float(F.cross_entropy(model(X), y)), float(F.cross_entropy(model(Xv), yv))))
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        total = torch.zeros((), dtype=tdtype)
        for start in range(0, n, batch):
            idx = perm[start:start + batch]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)
        with torch.no_grad():
            out = model(Xv)
            val = F.cross_entropy(out, yv)
            acc = (out.argmax(dim=1) == yv).to(tdtype).mean()
        history.append((float(total) / n, float(val), float(acc)))
    return time.perf_counter() - t0, history


# ------------------------------------------------------------------ items
def bench_frameworks(size: dict, repeats: int, pause: float, use_torch: bool, log) -> dict:
    """Items 1-3: digits, relu_study vs scikit-learn vs PyTorch, and probe overhead."""
    torch = _import_torch() if use_torch else None
    out = {"config": {"dataset": "digits", "hidden": list(size["hidden"]), "batch": size["batch"],
                      "epochs": size["epochs"], "lr": LR, "optimizer": "sgd (no momentum)",
                      "probe_epochs": ProbeOptions().schedule(size["epochs"])},
           "torch_available": torch is not None,
           "torch_note": None if torch is not None else ("not installed" if use_torch else "not requested"),
           "dtypes": {}}
    if use_torch and torch is None:
        log("  PyTorch is not installed: item 2 skipped (pip install torch to compare; "
            "it is never a dependency of relu_study)")
    kw = dict(epochs=size["epochs"], batch=size["batch"])
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        data = load_dataset("digits", dtype=dtype)
        # the closures run within this iteration (``_measure``); defaults bind them to it all the same
        variants = {
            "relu_study": lambda data=data, dtype=dtype: _relu_study_run(data, size["hidden"], dtype, **kw)[0],
            "sklearn": lambda data=data, dtype=dtype: _sklearn_run(data, size["hidden"], dtype, **kw)[0],
        }
        if torch is not None:
            variants["torch"] = lambda data=data, dtype=dtype: _torch_run(torch, data, size["hidden"], dtype, **kw)[0]
        log(f"  {name}: {', '.join(variants)} x {repeats} rounds ...")
        times = _measure(variants, repeats, pause)
        # item 3 on its own: relu_study's variants only, so that another library's
        # threads never run between a probes-off run and its probes-on partner
        probe_variants = {"relu_study": variants["relu_study"]}
        for variant, probes in PROBE_VARIANTS.items():
            probe_variants[variant] = lambda probes=probes, data=data, dtype=dtype: _relu_study_run(
                data, size["hidden"], dtype, probes=probes, **kw)[0]
        probe_variants[NO_EPOCH_STATS] = lambda data=data, dtype=dtype: _relu_study_run(
            data, size["hidden"], dtype, probes=True, epoch_stats=False, **kw)[0]
        log(f"  {name}: {', '.join(probe_variants)} x {size['probe_rounds']} rounds ...")
        probe_times = _measure(probe_variants, size["probe_rounds"], pause)
        sk_info = _sklearn_run(data, size["hidden"], dtype, epochs=1, batch=size["batch"])[1]
        base = times["relu_study"]
        res = {"n_train": data.n_train, "times": times, "probe_times": probe_times,
               "best": {k: _best(v) for k, v in {**times, **probe_times}.items()},
               "median": {k: _median(v) for k, v in {**times, **probe_times}.items()},
               "sklearn_dtype": sk_info["dtype"]}
        res["speedup_sklearn"] = _ratio(times["sklearn"], base)
        if "torch" in times:
            res["speedup_torch"] = _ratio(times["torch"], base)
        res["overheads"] = {v: _ratio(probe_times[v], probe_times["relu_study"]) - 1.0 for v in PROBE_VARIANTS}
        res["probe_overhead"] = res["overheads"]["relu_study+probes"]
        res["epoch_stats_overhead"] = _ratio(probe_times["relu_study+probes"], probe_times[NO_EPOCH_STATS]) - 1.0
        res["measures"] = probe_costs(data, size["hidden"], dtype, size["probe_repeats"], res["best"]["relu_study"])
        out["dtypes"][name] = res
    return out


def probe_costs(data: Dataset, hidden, dtype, repeats: int, run_seconds: float) -> dict:
    """The cost of one probe of item 3's network at initialisation, piece by
    piece (best of ``repeats``): the forward and backward pass over the probe
    set, each of :data:`~relu_study.engine.probes.FORWARD_MEASURES`, the
    first-order contribution, the columns and transitions, the whole probe, and
    the opt-in exact ablation; each also as a share of the probes-off run."""
    from ..engine.losses import LOSSES
    from ..engine.network import Workspace, augment
    from ..engine.probes import FORWARD_MEASURES, Prober, ProbeLayer, first_order_contribution, mean_ablation

    net = MLP(data.n_features, hidden, data.n_outputs, seeds=(0,), dtype=dtype)
    options = ProbeOptions()
    n = min(data.n_train, options.max_samples)
    X, y = data.X_train[:n], data.y_train[:n]
    x_aug = augment(X, dtype)
    ws = Workspace(net.sizes, 1, n, dtype, net.feature_major)
    grad_row = np.empty_like(net.flat)
    captured = {}

    def passes(capture=False):
        out, cache = net.forward_aug(x_aug, ws, keep=True)
        _, dout = LOSSES[data.task](out, y, grad=True)
        hook = (lambda layer, g: captured.__setitem__(layer, g.copy())) if capture else None
        net.backward(cache, dout, out=grad_row, activation_grad=hook)
        return cache

    def best(fn):
        fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    with blas_threads_for(net.sizes, 64):
        cache = passes(capture=True)
        derT, preT, postT = cache.transposed()
        floats = [np.empty_like(z) for z in preT]
        bools = [np.empty(z.shape, bool) for z in preT]

        def layers():
            return [ProbeLayer(z, a, d, f, b, options) for z, a, d, f, b in zip(preT, postT, derT, floats, bools)]

        def measure(fn):
            ready = layers()
            for layer in ready:  # a fresh layer starts without |a|
                for _, prior in FORWARD_MEASURES:
                    if prior is fn:
                        break
                    prior(layer)

            def run():
                for layer in ready:
                    layer._abs = None
                    fn(layer)
            return best(run)

        rows = {"forward and backward pass": ("(all)", best(passes))}
        for columns, fn in FORWARD_MEASURES:
            rows[fn.__name__.replace("_", " ")] = (columns, measure(fn))
        full = layers()
        for layer in full:
            for _, fn in FORWARD_MEASURES:
                fn(layer)
        rows["first order contribution"] = ("low_contribution_frac", best(
            lambda: [first_order_contribution(layer, captured[i]) for i, layer in enumerate(full)]))
        prober = Prober(X, y, data.task, data.n_outputs, options)
        raw = prober._block(net, False)
        rows["columns and transitions"] = ("(all)", best(lambda: prober._columns(net, raw, 1, False)))
        rows["whole probe"] = ("(all)", best(lambda: prober(net, 1)))
        rows["exact ablation (opt-in)"] = ("low_ablation_frac", best(
            lambda: mean_ablation(net, x_aug, y, data.task)))
    return {name: {"columns": cols, "seconds": t, "share_of_run": t / run_seconds}
            for name, (cols, t) in rows.items()}


def bench_groups(size: dict, pause: float, log) -> dict:
    """Item 4: S networks as one group against S sequential runs, on ``abs``."""
    data = load_dataset("abs")
    epochs, repeats, m = size["group_epochs"], size["group_repeats"], size["seq_runs"]
    out = {"config": {"dataset": "abs", "n_train": data.n_train, "batch": 32, "epochs": epochs,
                      "lr": LR, "sequential_runs_timed": m}, "archs": {}}
    modes = [False, True] if size["group_probes"] else [False]
    for label, widths in (("width 2, depth 10", [2] * 10), ("width 32, depth 3", [32] * 3)):
        arch = {}
        for probes in modes:
            kw = dict(epochs=epochs, batch=32, probes=probes)

            def sequential(kw=kw, widths=widths):
                t = 0.0
                for seed in range(m):
                    t += _relu_study_run(data, widths, np.float64, seeds=(seed,), **kw)[0]
                return t / m

            variants = {"sequential": sequential}
            for S in size["groups"]:
                variants[f"S={S}"] = (lambda S=S, kw=kw, widths=widths:
                                      _relu_study_run(data, widths, np.float64, seeds=range(S), **kw)[0])
            S_stats = 256 if 256 in size["groups"] else max(size["groups"])
            variants[f"S={S_stats}, epoch_stats=False"] = (
                lambda S=S_stats, kw=kw, widths=widths: _relu_study_run(
                    data, widths, np.float64, seeds=range(S), epoch_stats=False, **kw)[0])
            log(f"  {label}, probes {'on' if probes else 'off'}: groups {list(size['groups'])} "
                f"and {m} sequential runs x {repeats} rounds ...")
            _relu_study_run(data, widths, np.float64, seeds=range(4), **kw)  # warm-up
            times = _measure(variants, repeats, pause, warmup=False)
            seq = _best(times["sequential"])
            rows = {}
            for S in size["groups"]:
                group = _best(times[f"S={S}"])
                rows[S] = {"group_s": group, "group_per_net_s": group / S,
                           "sequential_s": seq * S, "sequential_per_net_s": seq,
                           "speedup": S * _ratio(times["sequential"], times[f"S={S}"]),
                           "sequential_scaled": S > m}
            arch["probes" if probes else "no_probes"] = {
                "times": times, "rows": rows, "epoch_stats_S": S_stats,
                "epoch_stats_overhead": _ratio(times[f"S={S_stats}"], times[f"S={S_stats}, epoch_stats=False"]) - 1.0}
        # the group computes exactly what the networks compute alone
        _, group = _relu_study_run(data, widths, np.float64, seeds=range(3), epochs=1, batch=32,
                                   probes=True)
        _, alone = _relu_study_run(data, widths, np.float64, seeds=(2,), epochs=1, batch=32, probes=True)
        g = group.table[group.table.seed == 2].reset_index(drop=True)
        num = [c for c in alone.table.columns if alone.table[c].dtype.kind == "f"]
        arch["group_equals_alone"] = bool(np.array_equal(g[num].to_numpy(), alone.table[num].to_numpy(),
                                                         equal_nan=True))
        out["archs"][label] = arch
    return out


def _import_jax():
    try:
        import jax
    except ImportError:
        return None
    return jax


class _JaxGroup:
    """The relu_study loop of item 4 in JAX: ``jit(vmap(run))`` over networks,
    ``lax.scan`` over an epoch's minibatches and over epochs; per epoch the mean
    minibatch loss and the validation loss, at epoch 0 the losses before
    training (mean squared error, SGD).  Same initial parameters (those of
    relu_study's ``MLP``) and minibatch orders (each network's ``order``
    generator), float64."""

    def __init__(self, jax, data: Dataset, widths, seeds, epochs: int, batch: int):
        import jax.numpy as jnp

        self.jax = jax
        n = data.n_train
        if n % batch:
            raise ValueError(f"the JAX loop needs full minibatches: {n} samples, batch {batch}")
        with jax.enable_x64(True):
            net = MLP(data.n_features, widths, data.n_outputs, seeds=seeds)
            self.params = [(jnp.asarray(w), jnp.asarray(b[:, 0, :])) for w, b in zip(net.W, net.b)]
            orders = np.stack([np.stack([g.permutation(n) for _ in range(epochs)])
                               for g in (seed_generator(s, "order") for s in seeds)])
            self.orders = jnp.asarray(orders.reshape(len(seeds), epochs, n // batch, batch))
            X, y = jnp.asarray(data.X_train), jnp.asarray(data.y_train)
            Xv, yv = jnp.asarray(data.X_val), jnp.asarray(data.y_val)

            def forward(p, x):
                for W, b in p[:-1]:
                    x = jax.nn.relu(x @ W + b)
                W, b = p[-1]
                return x @ W + b

            def loss(p, x, t):
                d = forward(p, x) - t
                return jnp.mean(d * d)

            def step(p, idx):
                value, grads = jax.value_and_grad(loss)(p, X[idx], y[idx])
                return jax.tree.map(lambda a, g: a - LR * g, p, grads), value

            def epoch(p, order):
                p, losses = jax.lax.scan(step, p, order)
                return p, (jnp.mean(losses), loss(p, Xv, yv))

            def run(p, orders):
                initial = (loss(p, X, y), loss(p, Xv, yv))
                p, history = jax.lax.scan(epoch, p, orders)
                return p, initial, history

            self.fn = jax.jit(jax.vmap(run))

    def __call__(self):
        """Seconds of one run (the first call compiles) and its history."""
        with self.jax.enable_x64(True):
            t0 = time.perf_counter()
            result = self.jax.block_until_ready(self.fn(self.params, self.orders))
            return time.perf_counter() - t0, result


def bench_jax(size: dict, pause: float, use_jax: bool, log) -> dict:
    """Item 6: relu_study's seed group against the same loop in JAX."""
    jax = _import_jax() if use_jax else None
    out = {"jax_available": jax is not None, "archs": {},
           "jax_note": None if jax is not None else ("not installed" if use_jax else "not requested")}
    if jax is None:
        if use_jax:
            log("  JAX is not installed: item 6 skipped (pip install jax jaxlib to compare; "
                "it is never a dependency of relu_study)")
        return out
    data = load_dataset("abs")
    S, epochs, batch = size["jax_networks"], size["group_epochs"], 32
    out["config"] = {"dataset": "abs", "n_train": data.n_train, "batch": batch, "epochs": epochs, "networks": S,
                     "jax": jax.__version__, "devices": [str(d) for d in jax.devices()]}
    for label, widths in (("width 2, depth 10", [2] * 10), ("width 32, depth 3", [32] * 3)):
        group = _JaxGroup(jax, data, widths, range(S), epochs, batch)
        first, _ = group()  # compiles
        steady, history = group()
        _, ours = _relu_study_run(data, widths, np.float64, seeds=range(S), epochs=epochs, batch=batch)
        last = ours.table[ours.table["epoch"] == epochs]["val_loss"].to_numpy()
        agree = float(np.max(np.abs(np.asarray(history[2][1])[:, -1] - last) / np.abs(last)))
        log(f"  {label}: S = {S}, compile {first - steady:.1f} s; x {size['jax_repeats']} rounds ...")
        times = _measure({"relu_study": lambda w=widths: _relu_study_run(data, w, np.float64, seeds=range(S),
                                                                        epochs=epochs, batch=batch)[0],
                          "jax": lambda g=group: g()[0]}, size["jax_repeats"], pause, warmup=False)
        out["archs"][label] = {"times": times, "compile_s": first - steady,
                               "relu_study_per_net_s": _best(times["relu_study"]) / S,
                               "jax_per_net_s": _best(times["jax"]) / S,
                               "speedup": _ratio(times["jax"], times["relu_study"]),
                               "final_val_loss_rel_diff": agree}
    return out


def _gemm_shapes(sizes, batch):
    """(m, k, n) of every matrix product of one SGD step: forward, weight
    gradients, input gradients (not for the first layer)."""
    shapes = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        shapes.append(("fwd", batch, i, o))
    for i, o in zip(sizes[:-1], sizes[1:]):
        shapes.append(("gw", i, batch, o))
    for i, o in list(zip(sizes[:-1], sizes[1:]))[1:]:
        shapes.append(("da", batch, o, i))
    return shapes


def bench_large(size: dict, pause: float, log) -> dict:
    """Item 5: throughput of a width-W network against NumPy's matmul on the same shapes."""
    W, batch = size["large_width"], 64
    data = load_dataset("blobs", n_samples=size["large_samples"], n_features=W, centers=10, seed=0)
    sizes = [W, W, W, data.n_outputs]
    epochs = size["large_epochs"]
    n, n_val = data.n_train, data.n_val
    steps = epochs * math.ceil(n / batch)
    # every matrix product of the run: the steps, the validation forward passes
    # after every epoch and at epoch 0, and the epoch-0 training-set loss
    products = []
    for start in range(0, n, batch):
        b = min(batch, n - start)
        products += [(m, k, o) for _, m, k, o in _gemm_shapes(sizes, b)] * epochs
    for rows, count in ((n_val, epochs + 1), (n, 1)):
        products += [(rows, i, o) for i, o in zip(sizes[:-1], sizes[1:])] * count
    flops = sum(2.0 * m * k * o for m, k, o in products)

    rng = np.random.default_rng(0)
    operands = {}
    for shape in set(products):
        m, k, o = shape
        operands[shape] = (rng.standard_normal((m, k)), rng.standard_normal((k, o)))

    def numpy_reference():
        t0 = time.perf_counter()
        for shape in products:
            a, b = operands[shape]
            np.matmul(a, b)
        return time.perf_counter() - t0

    net_seconds = {}

    def relu_study_run():
        net = MLP(W, [W, W], data.n_outputs, seeds=(0,))
        t0 = time.perf_counter()
        train(net, data, epochs=epochs, batch_size=batch, optimizer=make_optimizer("sgd", LR), probes=False)
        net_seconds["last"] = time.perf_counter() - t0
        return net_seconds["last"]

    log(f"  width {W}: {steps} steps of batch {batch}, {len(products)} products, "
        f"{flops / 1e9:.2f} GFLOP, x {size['large_repeats']} rounds ...")
    times = _measure({"relu_study": relu_study_run, "numpy_matmul": numpy_reference},
                     size["large_repeats"], pause)
    ours, ref = _best(times["relu_study"]), _best(times["numpy_matmul"])
    return {"config": {"sizes": sizes, "batch": batch, "epochs": epochs, "n_train": n, "n_val": n_val,
                       "steps": steps, "products": len(products), "gflop": flops / 1e9},
            "times": times, "relu_study_gflops": flops / ours / 1e9, "numpy_gflops": flops / ref / 1e9,
            "share": _ratio(times["numpy_matmul"], times["relu_study"])}


# ---------------------------------------------------------------- report
def _verdict(key, value):
    _, op, bound = TARGETS[key]
    ok = value >= bound if op == ">=" else value <= bound
    return "met" if ok else "MISSED"


def _fmt_s(t):
    return f"{t * 1e3:8.1f} ms" if t < 10 else f"{t:8.2f} s "


def _pct(x, digits: int = 0):
    return f"{100 * x:+.{digits}f}%"


def report(results: dict) -> list[str]:
    """The printed summary (also the body of ``--markdown``)."""
    lines = []
    fw = results.get("frameworks")
    if fw:
        c = fw["config"]
        lines.append(f"## 1-3. digits, hidden {tuple(c['hidden'])}, batch {c['batch']}, {c['epochs']} epochs, "
                     f"SGD lr {c['lr']} (times: best of {results['repeats']} rounds; ratios: median "
                     "of the per-round ratios)")
        lines.append("")
        lines.append("| dtype | relu_study | scikit-learn | PyTorch | vs sklearn | vs PyTorch | "
                     "probes on | probe overhead |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for name, r in fw["dtypes"].items():
            b = r["best"]
            torch_t = _fmt_s(b["torch"]).strip() if "torch" in b else "n/a"
            vs_t = f"{r['speedup_torch']:.2f}x" if "speedup_torch" in r else "n/a"
            lines.append(f"| {name} | {_fmt_s(b['relu_study']).strip()} | {_fmt_s(b['sklearn']).strip()} "
                         f"| {torch_t} | {r['speedup_sklearn']:.2f}x | {vs_t} | "
                         f"{_fmt_s(b['relu_study+probes']).strip()} | {_pct(r['probe_overhead'])} |")
        lines.append("")
        lines.append(f"Probe overhead against the probes-off run (default schedule: probes at epochs "
                     f"{', '.join(map(str, c['probe_epochs']))}; relu_study's variants alone, "
                     f"{results['probe_rounds']} interleaved rounds, median of the per-round ratios):")
        lines.append("")
        lines.append("| dtype | default probes | every epoch (`probe.every=1`) | + `probe.units` | "
                     "+ `probe.ablation` |")
        lines.append("|---|---|---|---|---|")
        for name, r in fw["dtypes"].items():
            o = r["overheads"]
            lines.append(f"| {name} | {_pct(o['relu_study+probes'])} | {_pct(o['relu_study+probes every epoch'])} "
                         f"| {_pct(o['relu_study+probes+units'])} | {_pct(o['relu_study+probes+ablation'])} |")
        lines.append("")
        lines.append("Epoch statistics overhead (the default-probes run, epoch statistics on as by default, "
                     "against the same run with `epoch_stats=False`; same rounds, median of the per-round "
                     "ratios): " + ", ".join(f"{name} {_pct(r['epoch_stats_overhead'], 1)}"
                                             for name, r in fw["dtypes"].items()))
        lines.append("")
        lines.append("Cost of one probe, piece by piece (the network at initialisation, the default probe set; "
                     "each measure alone, so the pieces overlap; % of the probes-off run):")
        lines.append("")
        dtypes = list(fw["dtypes"])
        lines.append("| piece | columns | " + " | ".join(dtypes) + " |")
        lines.append("|---|---|" + "---|" * len(dtypes))
        first = fw["dtypes"][dtypes[0]]["measures"]
        for piece, m in first.items():
            cells = [f"{fw['dtypes'][d]['measures'][piece]['seconds'] * 1e3:.2f} ms "
                     f"({100 * fw['dtypes'][d]['measures'][piece]['share_of_run']:.1f}%)" for d in dtypes]
            lines.append(f"| {piece} | {m['columns']} | " + " | ".join(cells) + " |")
        if not fw["torch_available"]:
            lines.append("")
            lines.append(f"PyTorch {fw.get('torch_note') or 'not installed'}: item 2 skipped.")
        lines.append("")
    gr = results.get("groups")
    if gr:
        c = gr["config"]
        lines.append(f"## 4. Seed groups: abs ({c['n_train']} training samples), batch {c['batch']}, "
                     f"{c['epochs']} epochs, float64 (per-network times: best of {results['group_repeats']} "
                     "rounds; speed-up: median of the per-round ratios)")
        lines.append("")
        lines.append("| architecture | probes | S | group | per network | sequential per network | speed-up |")
        lines.append("|---|---|---|---|---|---|---|")
        for label, arch in gr["archs"].items():
            for mode in ("no_probes", "probes"):
                if mode not in arch:
                    continue
                for S, row in arch[mode]["rows"].items():
                    star = "*" if row["sequential_scaled"] else ""
                    lines.append(f"| {label} | {'on' if mode == 'probes' else 'off'} | {S} | "
                                 f"{_fmt_s(row['group_s']).strip()} | {row['group_per_net_s'] * 1e3:.2f} ms | "
                                 f"{row['sequential_per_net_s'] * 1e3:.2f} ms{star} | {row['speedup']:.1f}x |")
        lines.append("")
        lines.append("Epoch statistics overhead (the group against the same group with `epoch_stats=False`, "
                     "median of the per-round ratios): " + ", ".join(
                         f"{label}, probes {'on' if mode == 'probes' else 'off'}, S={arch[mode]['epoch_stats_S']}: "
                         f"{_pct(arch[mode]['epoch_stats_overhead'], 1)}"
                         for label, arch in gr["archs"].items() for mode in ("no_probes", "probes") if mode in arch))
        lines.append("")
        lines.append(f"Sequential per-network time: mean of {c['sequential_runs_timed']} separate runs "
                     "(seeds 0..); * = S sequential runs scaled from those. "
                     "Group member equals the same seed alone (bitwise): " + ", ".join(
                         f"{k}: {'yes' if a['group_equals_alone'] else 'NO'}" for k, a in gr["archs"].items()))
        lines.append("")
    lg = results.get("large")
    if lg:
        c = lg["config"]
        lines.append(f"## 5. Large layers: {'-'.join(map(str, c['sizes']))}, batch {c['batch']}, "
                     f"{c['steps']} SGD steps ({c['gflop']:.2f} GFLOP in {c['products']} products)")
        lines.append("")
        lines.append("| relu_study training run | NumPy matmul, same products | share (median of rounds) |")
        lines.append("|---|---|---|")
        lines.append(f"| {lg['relu_study_gflops']:.1f} GFLOP/s | {lg['numpy_gflops']:.1f} GFLOP/s | "
                     f"{100 * lg['share']:.0f}% |")
        lines.append("")
    jx = results.get("jax")
    if jx:
        if not jx["jax_available"]:
            lines.append(f"## 6. JAX: {jx.get('jax_note') or 'not installed'}, item skipped.")
        else:
            c = jx["config"]
            lines.append(f"## 6. JAX {c['jax']} ({', '.join(c['devices'])}): abs, batch {c['batch']}, "
                         f"{c['epochs']} epochs, float64, S = {c['networks']}, probes off (per-network times: "
                         f"best of {results['jax_repeats']} rounds after compilation; speed-up: median of the "
                         "per-round ratios)")
            lines.append("")
            lines.append("| architecture | relu_study per network | JAX per network | speed-up over JAX | "
                         "JAX compile | final val loss, relative difference |")
            lines.append("|---|---|---|---|---|---|")
            for label, a in jx["archs"].items():
                lines.append(f"| {label} | {a['relu_study_per_net_s'] * 1e3:.3f} ms "
                             f"| {a['jax_per_net_s'] * 1e3:.3f} ms | {a['speedup']:.2f}x | {a['compile_s']:.1f} s "
                             f"| {a['final_val_loss_rel_diff']:.1e} |")
        lines.append("")
    lines.append("## Targets")
    lines.append("")
    lines.append("| target | measured | bound | verdict |")
    lines.append("|---|---|---|---|")
    for key, label, value, shown in _target_values(results):
        _, op, bound = TARGETS[key]
        bshow = (f"{op} {100 * bound:.0f}%" if key in ("probes", "large", "epoch_stats", "epoch_stats_groups")
                 else f"{op} {bound:.2f}x")
        lines.append(f"| {label} | {shown} | {bshow} | {_verdict(key, value)} |")
    return lines


def _target_values(results):
    fw = results.get("frameworks")
    if fw:
        for name, r in fw["dtypes"].items():
            for key in ("sklearn", "torch"):
                if f"speedup_{key}" in r:
                    v = r[f"speedup_{key}"]
                    yield key, f"{TARGETS[key][0]} ({name})", v, f"{v:.2f}x"
        for name, r in fw["dtypes"].items():
            v = r["probe_overhead"]
            yield "probes", f"{TARGETS['probes'][0]} ({name})", v, _pct(v)
        for name, r in fw["dtypes"].items():
            v = r["epoch_stats_overhead"]
            yield "epoch_stats", f"{TARGETS['epoch_stats'][0]} ({name})", v, _pct(v, 1)
    gr = results.get("groups")
    if gr:
        for key, label in (("groups", "width 2, depth 10"), ("groups32", "width 32, depth 3")):
            arch = gr["archs"].get(label, {})
            for mode in ("no_probes", "probes"):
                rows = arch.get(mode, {}).get("rows", {})
                S = 256 if 256 in rows else max(rows) if rows else None
                if S is not None and (mode == "no_probes" or key == "groups"):
                    v = rows[S]["speedup"]
                    probes = "on" if mode == "probes" else "off"
                    text = TARGETS[key][0].replace("S=256", f"S={S}") + f", probes {probes}"
                    yield key, text, v, f"{v:.1f}x"
        for label, arch in gr["archs"].items():
            for mode in ("no_probes", "probes"):
                if mode in arch:
                    v, S = arch[mode]["epoch_stats_overhead"], arch[mode]["epoch_stats_S"]
                    probes = "on" if mode == "probes" else "off"
                    yield ("epoch_stats_groups", f"{TARGETS['epoch_stats_groups'][0]}, {label}, S={S}, probes {probes}",
                           v, _pct(v, 1))
    lg = results.get("large")
    if lg:
        label = TARGETS["large"][0].replace("1024", str(lg["config"]["sizes"][0]))
        yield "large", label, lg["share"], f"{100 * lg['share']:.0f}%"
    jx = results.get("jax")
    if jx and jx["jax_available"]:
        for label, a in jx["archs"].items():
            yield "jax", f"{TARGETS['jax'][0]}, {label}, S={jx['config']['networks']} (stretch)", a["speedup"], \
                f"{a['speedup']:.2f}x"
            if label.startswith("width 32"):
                yield "jax_floor", f"{TARGETS['jax_floor'][0]}, {label}", a["speedup"], f"{a['speedup']:.2f}x"


def header(env: dict, load_before) -> list[str]:
    lines = [f"relu_study {env['relu_study']} benchmark: Python {env['python']}, NumPy {env['numpy']}, "
             f"SciPy {env['scipy']}, scikit-learn {env['scikit-learn']}, "
             f"PyTorch {env['torch'] or ('not installed' if env.get('torch_used', True) else 'not used')}, "
             f"JAX {env.get('jax') or ('not installed' if env.get('jax_used', True) else 'not used')}",
             f"machine: {env['cpu']}, {env['usable_cpus']} usable of {env['cpu_count']} CPUs; {env['platform']}"]
    for b in env["blas"]:
        lines.append(f"threadpool: {b['user_api']} {b['internal_api']} {b['version']} "
                     f"({b.get('architecture') or '?'}), {b['num_threads']} threads, "
                     f"{b.get('threading_layer') or ''} [{os.path.basename(b.get('filepath') or '')}]")
    if env["torch"]:
        lines.append(f"torch: {env['torch_threads']} intra-op threads, BLAS {env.get('torch_blas')}")
    lines.append(f"relu_study runs (the entry points' policy, relu_study.engine.process): networks whose per-step "
                 f"products are below {env['small_step_macs']:,} multiply-adds train on 1 BLAS thread (items 1-4, 6); "
                 "larger ones (item 5) on the threads above; freed memory kept in the process"
                 + (" (RELU_STUDY_MALLOPT=0: not)" if os.environ.get("RELU_STUDY_MALLOPT") == "0" else ""))
    if env["env"]:
        lines.append("environment: " + " ".join(f"{k}={v}" for k, v in sorted(env["env"].items())))
    if load_before is not None:
        lines.append(f"other processes before start: {load_before:.2f} busy cores")
    return lines


def run_benchmark(size_name: str = "full", repeats: int | None = None, pause: float = 0.05,
                  use_torch: bool = True, only=None, log=print, use_jax: bool = True) -> dict:
    size = dict(SIZES[size_name])
    repeats = repeats or size["repeats"]
    only = set(only or (1, 2, 3, 4, 5, 6))
    env = environment(use_torch and 2 in only, use_jax and 6 in only)
    load_before = machine_load(1.0 if size_name != "tiny" else 0.1)
    for line in header(env, load_before):
        log(line)
    cpu0, own0, wall0 = _cpu_times(), _own_cpu(), time.perf_counter()
    results = {"size": size_name, "repeats": repeats, "group_repeats": size["group_repeats"],
               "jax_repeats": size["jax_repeats"], "probe_rounds": size["probe_rounds"], "environment": env,
               "load_before": load_before}
    if only & {1, 2, 3}:
        log("items 1-3: relu_study, scikit-learn, PyTorch on digits; probe overhead")
        results["frameworks"] = bench_frameworks(size, repeats, pause, use_torch and 2 in only, log)
    if 4 in only:
        log("item 4: seed groups")
        results["groups"] = bench_groups(size, pause, log)
    if 5 in only:
        log("item 5: large layers")
        results["large"] = bench_large(size, pause, log)
    if 6 in only:
        log("item 6: JAX")
        results["jax"] = bench_jax(size, pause, use_jax, log)
    results["unstable"] = _unstable(results)
    wall = time.perf_counter() - wall0
    cpu1 = _cpu_times()
    results["wall_s"] = wall
    if cpu0 is not None and cpu1 is not None:
        other = (cpu1[0] - cpu0[0]) - (_own_cpu() - own0)
        results["background_cores"] = max(0.0, other / wall)
    return results


def _unstable(results, spread: float = 2.0) -> list[str]:
    """Variants whose slowest round took more than ``spread`` x their best: the
    machine was busy during part of the run (their best round still counts)."""
    found = []

    def check(prefix, times):
        for name, ts in times.items():
            if len(ts) > 1 and max(ts) > spread * min(ts):
                found.append(f"{prefix}{name} ({max(ts) / min(ts):.1f}x)")

    for dt, r in results.get("frameworks", {}).get("dtypes", {}).items():
        check(f"{dt} ", r["times"])
        check(f"{dt} item 3: ", r["probe_times"])
    for arch, a in results.get("groups", {}).get("archs", {}).items():
        for mode in ("no_probes", "probes"):
            if mode in a:
                check(f"{arch}, {mode.replace('_', ' ')}: ", a[mode]["times"])
    if "large" in results:
        check("large ", results["large"]["times"])
    for arch, a in results.get("jax", {}).get("archs", {}).items():
        check(f"JAX item, {arch}: ", a["times"])
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m relu_study.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and smaller groups (< 1 min)")
    parser.add_argument("--size", choices=sorted(SIZES), default=None,
                        help="preset: full (default), quick, tiny (smoke test)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per variant (items 1-3)")
    parser.add_argument("--pause", type=float, default=0.05,
                        help="seconds of idle before each timed run (spinning BLAS/OpenMP threads go idle)")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit NumPy's BLAS (threadpoolctl) and PyTorch to this many threads "
                             "(default: leave both as they are)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    parser.add_argument("--no-jax", action="store_true", help="skip JAX even if installed")
    parser.add_argument("--only", default=None, help="comma-separated items to run (1-6), e.g. 1,4")
    parser.add_argument("--json", default=None, help="write all timings and figures to this file")
    parser.add_argument("--markdown", default=None, help="write the result tables to this file")
    args = parser.parse_args(argv)
    size = args.size or ("quick" if args.quick else "full")
    only = [int(x) for x in args.only.split(",")] if args.only else None
    command = "python -m relu_study.bench"
    command += f" --size {size}" if args.size else " --quick" if args.quick else ""
    if args.threads:
        command += f" --threads {args.threads}"
    # the command line's process settings (relu_study.engine.process), so that
    # relu_study runs here as it runs there; RELU_STUDY_MALLOPT=0 opts out
    retain_freed_memory()
    with _thread_limit(args.threads, not args.no_torch):
        results = run_benchmark(size, args.repeats, args.pause, not args.no_torch, only, use_jax=not args.no_jax)
    results["command"] = command
    lines = report(results)
    bg = results.get("background_cores")
    footer = [f"total {results['wall_s']:.0f} s wall" + (
        f"; other processes used {bg:.2f} cores on average during the run" if bg is not None else "")]
    if bg is not None and bg > 0.25:
        footer.append("warning: the machine was not idle; figures are noisier than usual")
    if results.get("unstable"):
        footer.append("rounds spread over 2x (times use the best round, ratios the median of rounds): "
                      + ", ".join(results["unstable"]))
    print()
    print("\n".join(lines + [""] + footer))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=_json_default)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join([f"Command: `{command}`", ""] + [f"    {x}" for x in header(
                results["environment"], results["load_before"])] + [""] + lines + [""] + footer) + "\n")
    return 0


@contextmanager
def _thread_limit(threads, use_torch):
    """Cap NumPy's BLAS and PyTorch's intra-op threads (``--threads``)."""
    if not threads:
        yield
        return
    from threadpoolctl import threadpool_limits

    torch = _import_torch() if use_torch else None
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(before)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


if __name__ == "__main__":
    sys.exit(main())

"""The experiment configuration: its schema (dataclasses) and its validation.

The dataclasses are the schema the command line registers in Hydra's
ConfigStore, so a wrong type or an unknown key is caught before anything runs;
:func:`validate` adds the checks a type cannot express (finite alpha, positive
learning rate, known names) and names the offending key and value.  Nothing
here imports Hydra: notebooks build a config with :func:`default_config` and
pass a plain dict to :func:`relu_study.runs.experiment.run_experiment`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field, fields, make_dataclass
from typing import Any, Dict, List, Optional, get_type_hints

__all__ = [
    "ActivationConfig", "ConfigError", "DatasetConfig", "ExperimentConfig", "InitConfig",
    "ModelConfig", "OptimizerConfig", "PlotsConfig", "ProbeConfig", "SLOPE_ACTIVATIONS", "activation_params",
    "default_config", "flatten", "plot_settings", "resolve_seeds", "slope_used", "validate",
]

#: activations whose negative slope is the top-level ``alpha`` (prelu: its initial slope)
SLOPE_ACTIVATIONS = ("leaky", "prelu")


class ConfigError(ValueError):
    """An invalid configuration value: ``key``, ``value`` and what is wrong."""

    def __init__(self, key: str, value: Any, problem: str):
        self.key, self.value, self.problem = key, value, problem
        super().__init__(f"{key}={value!r}: {problem}")


@dataclass
class ActivationConfig:
    """``name``: a registered activation; ``scale``: ELU's alpha (the value it
    saturates at is ``-scale``); ``lower``, ``upper``: RReLU's slope range;
    ``beta``: softplus sharpness.

    The negative slope of leaky and prelu is *not* here: it has one name, the
    top-level ``alpha`` (see :func:`activation_params`), so a table can never
    show one slope while the network used another.
    """

    name: str = "relu"
    scale: float = 1.0
    lower: float = 0.125
    upper: float = 0.3333333333333333
    beta: float = 1.0


@dataclass
class DatasetConfig:
    """A registered dataset (``relu_study.data``), or ``table`` with ``path`` and ``target``.
    ``test_fraction > 0`` holds out a test part (stratified, from ``seed``) whose
    loss and metric the run records at epoch 0, on probed epochs and at the end."""

    name: str = "moons"
    n_samples: Optional[int] = None
    noise: Optional[float] = None
    val_fraction: float = 0.2
    test_fraction: float = 0.0
    standardize: bool = True
    seed: int = 0
    path: Optional[str] = None
    target: Optional[str] = None
    task: Optional[str] = None
    options: Dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelConfig:
    """Hidden layers: ``widths`` if given, else ``depth`` layers of ``width`` units."""

    name: str = "mlp"
    depth: int = 2
    width: int = 32
    widths: Optional[List[int]] = None


@dataclass
class InitConfig:
    """Weight initialiser (``relu_study.engine.init.WEIGHT_INITS``) and bias initialiser.
    ``output``: ``same`` (the output layer drawn with ``weight`` too) or
    ``default`` (He-normal with gain 1 and zero bias for the output layer:
    ``weight=rai`` then is RAI on the hidden layers only, Lu et al.'s setting)."""

    name: str = "he"
    weight: str = "he_normal"
    bias: str = "zeros"
    bias_value: float = 0.0
    bias_std: float = 0.0
    output: str = "same"


@dataclass
class OptimizerConfig:
    name: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    clip_norm: Optional[float] = None
    schedule: str = "constant"
    min_lr: float = 0.0


def _probe_config() -> type:
    """The ``probe`` section's schema: the probe options themselves
    (:class:`relu_study.engine.probes.ProbeOptions`: its fields, types and
    defaults, read from the class) and ``enabled``; the probe set's seed is the
    dataset's (``dataset.seed``), so it is no key of its own.  Declared once:
    a new probe option is a field of ``ProbeOptions``, checked there."""
    from ..engine.probes import ProbeOptions

    types = get_type_hints(ProbeOptions)
    specs = [("enabled", bool, field(default=True))]
    specs += [(f.name, types[f.name], field(default=f.default)) for f in fields(ProbeOptions) if f.name != "seed"]
    schema = make_dataclass("ProbeConfig", specs)
    schema.__module__ = __name__
    schema.__doc__ = ("The probe section: ``enabled`` (false: no probe columns) and every field of "
                      ":class:`relu_study.engine.probes.ProbeOptions` but ``seed``, with its type and default.")
    return schema


#: the ``probe`` section's schema, generated from ``ProbeOptions`` (see :func:`_probe_config`)
ProbeConfig = _probe_config()


@dataclass
class PlotsConfig:
    """The per-run figures.  ``enabled``: write ``loss.png`` and ``dead.png``
    (``plots=false`` is short for ``plots.enabled=false``); ``metrics``: the
    metrics ``dead.png`` draws, by registry name (:mod:`relu_study.engine.metrics`;
    ``dead_frac_l2`` for one layer); null: what "dead" means for the activation
    trained (:func:`relu_study.runs.plots.default_health_metrics`)."""

    enabled: bool = True
    metrics: Optional[List[str]] = None


def plot_settings(cfg: dict) -> tuple[bool, list[str] | None]:
    """``(enabled, metrics)`` of ``cfg["plots"]``, which is a :class:`PlotsConfig` dict or a bool."""
    plots = cfg.get("plots", True)
    if isinstance(plots, dict):
        return bool(plots.get("enabled", True)), plots.get("metrics")
    return bool(plots), None


@dataclass
class ExperimentConfig:
    """One run: ``seeds`` networks (a count from ``seed`` on, or a list) trained as a group."""

    seed: int = 0
    seeds: Any = 1
    alpha: float = 0.01
    epochs: int = 30
    batch_size: int = 32
    dtype: str = "float64"
    save_params: bool = True
    save_csv: bool = False
    #: a :class:`PlotsConfig` (typed ``Any`` so that ``plots=false`` still replaces it whole)
    plots: Any = field(default_factory=lambda: asdict(PlotsConfig()))
    progress: bool = True
    overwrite: bool = False
    epoch_stats: bool = True
    activation: ActivationConfig = field(default_factory=ActivationConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    init: InitConfig = field(default_factory=InitConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    #: experiment tracking (``logger=mlflow`` / ``logger=tensorboard``): relu_study.runs.tracking
    logger: Any = None


def default_config(**overrides) -> dict:
    """The schema's defaults as a plain nested dict; ``overrides`` use dotted keys
    (``default_config(**{"activation.name": "leaky", "optimizer.lr": 0.5})``)."""
    cfg = asdict(ExperimentConfig())
    for key, value in overrides.items():
        node = cfg
        *parents, leaf = key.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return cfg


def activation_params(cfg: dict) -> dict[str, tuple[str, Any]]:
    """``{parameter: (config key, value)}`` for the activation of ``cfg``.

    The negative slope of leaky and prelu comes from the top-level ``alpha``;
    ELU's own ``alpha`` (its scale) from ``activation.scale``; any other parameter
    ``p`` from ``activation.<p>``.  Configs written before the slope had one name
    carried ``activation.alpha``, the slope the network actually used; it is
    honoured when present so older summaries read back right.
    """
    from ..engine.activations import ACTIVATIONS

    act = cfg["activation"]
    out = {}
    for param in ACTIVATIONS[act["name"]].params:
        if param == "alpha" and act["name"] in SLOPE_ACTIVATIONS:
            out[param] = ("activation.alpha", act["alpha"]) if "alpha" in act else ("alpha", cfg["alpha"])
        elif param == "alpha":
            out[param] = ("activation.scale", act.get("scale", act.get("alpha")))
        else:
            out[param] = (f"activation.{param}", act.get(param))
    return out


def slope_used(cfg: dict) -> float:
    """The negative slope the network of ``cfg`` uses: leaky's slope, prelu's
    initial slope, 0.0 for relu, NaN for activations without one."""
    name = cfg["activation"]["name"]
    if name in SLOPE_ACTIVATIONS:
        return float(cfg["activation"].get("alpha", cfg["alpha"]))
    return 0.0 if name == "relu" else math.nan


def resolve_seeds(cfg: dict) -> list[int]:
    """The network seeds of a run: ``seeds`` as a count from ``seed``, or a list."""
    seeds, seed = cfg.get("seeds", 1), cfg.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError("seed", seed, "must be a non-negative integer")
    if isinstance(seeds, (list, tuple)):
        if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
            raise ConfigError("seeds", seeds, "must be a positive count or a non-empty list of non-negative integers")
        if len(set(seeds)) != len(seeds):
            raise ConfigError("seeds", seeds, "contains duplicates")
        return [int(s) for s in seeds]
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds <= 0:
        raise ConfigError("seeds", seeds, "must be a positive count or a non-empty list of non-negative integers")
    return list(range(seed, seed + seeds))


def _finite(key, value, minimum=None, strict=False):
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(key, value, "must be a finite number")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ConfigError(key, value, f"must be {'>' if strict else '>='} {minimum:g}")


def _positive_int(key, value, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(key, value, "must be a positive integer")


def _choice(key, value, choices):
    if value not in choices:
        raise ConfigError(key, value, f"unknown choice; valid choices: {', '.join(map(str, choices))}")


def _check_plots(plots) -> None:
    from ..engine.metrics import METRICS, metric

    if isinstance(plots, bool):
        return
    if not isinstance(plots, dict):
        raise ConfigError("plots", plots, "must be true, false or {enabled: ..., metrics: [...]}")
    if not isinstance(plots.get("enabled", True), bool):
        raise ConfigError("plots.enabled", plots["enabled"], "must be true or false")
    names = plots.get("metrics")
    if names is None:
        return
    if isinstance(names, str) or not isinstance(names, (list, tuple)) or not names:
        raise ConfigError("plots.metrics", names, "must be a non-empty list of metric names, e.g. [dead_frac]")
    for name in names:
        try:
            m = metric(str(name))
        except KeyError:
            m = None
        if m is None or m.scope in ("run", "loss"):
            known = [n for n, v in METRICS.items() if v.scope in ("layer", "network") and "<" not in n]
            raise ConfigError("plots.metrics", name, f"not a unit metric; known: {', '.join(known)}")


def validate(cfg: dict) -> dict:
    """Check every value a run depends on; raise :class:`ConfigError` at the first bad one.

    Returns ``cfg`` (unchanged) so it can be chained.
    """
    from ..engine.activations import ACTIVATIONS
    from ..data import DATASETS, table_path
    from ..engine.init import BIAS_INITS, WEIGHT_INITS
    from ..engine.network import OUTPUT_INITS
    from ..engine.optim import OPTIMIZERS, SCHEDULES

    resolve_seeds(cfg)
    _finite("alpha", cfg["alpha"])
    _positive_int("batch_size", cfg["batch_size"])
    if isinstance(cfg["epochs"], bool) or not isinstance(cfg["epochs"], int) or cfg["epochs"] < 0:
        raise ConfigError("epochs", cfg["epochs"], "must be a non-negative integer")
    _choice("dtype", cfg["dtype"], ("float64", "float32"))
    if not isinstance(cfg.get("epoch_stats", True), bool):
        raise ConfigError("epoch_stats", cfg["epoch_stats"], "must be true or false")
    _check_plots(cfg.get("plots", True))

    act = cfg["activation"]
    _choice("activation.name", act["name"], list(ACTIVATIONS))
    for key, value in activation_params(cfg).values():
        _finite(key, value)
    if act["name"] == "rrelu" and act["lower"] > act["upper"]:
        raise ConfigError("activation.lower", act["lower"], f"must be <= activation.upper={act['upper']!r}")
    if act["name"] == "softplus":
        _finite("activation.beta", act["beta"], 0, strict=True)

    data = cfg["dataset"]
    _choice("dataset.name", data["name"], list(DATASETS))
    ds = data.get("seed", 0)  # NumPy's generators take no negative seed (and would say so without the key)
    if isinstance(ds, bool) or not isinstance(ds, int) or ds < 0:
        raise ConfigError("dataset.seed", ds, "must be a non-negative integer")
    _positive_int("dataset.n_samples", data["n_samples"], allow_none=True)
    if data["noise"] is not None:
        _finite("dataset.noise", data["noise"], 0)
    vf = data["val_fraction"]
    if not (isinstance(vf, (int, float)) and 0 < vf < 1):
        raise ConfigError("dataset.val_fraction", vf, "must be strictly between 0 and 1")
    tf = data.get("test_fraction", 0.0)
    if isinstance(tf, bool) or not (isinstance(tf, (int, float)) and 0 <= tf < 1):
        raise ConfigError("dataset.test_fraction", tf, "must be in [0, 1) (0: no test part)")
    if vf + tf >= 1:
        raise ConfigError("dataset.test_fraction", tf, f"val_fraction + test_fraction must be < 1 "
                                                       f"(val_fraction={vf!r})")
    if data["name"] == "table":
        if not data["path"]:
            raise ConfigError("dataset.path", data["path"], "is required for dataset=table")
        if not table_path(data["path"]).is_file():
            raise ConfigError("dataset.path", data["path"], "no such file")
        if not data["target"]:
            raise ConfigError("dataset.target", data["target"], "is required for dataset=table (the target column)")
    if data["task"] is not None:
        _choice("dataset.task", data["task"], ("classification", "regression"))

    model = cfg["model"]
    if model["widths"] is not None:
        if not model["widths"]:
            raise ConfigError("model.widths", model["widths"], "must list at least one hidden width")
        for i, w in enumerate(model["widths"]):
            _positive_int(f"model.widths[{i}]", w)
    else:
        _positive_int("model.depth", model["depth"])
        _positive_int("model.width", model["width"])

    init = cfg["init"]
    _choice("init.weight", init["weight"], list(WEIGHT_INITS))
    _choice("init.bias", init["bias"], list(BIAS_INITS))
    _choice("init.output", init.get("output", "same"), list(OUTPUT_INITS))
    _finite("init.bias_value", init["bias_value"])
    _finite("init.bias_std", init["bias_std"], 0)

    opt = cfg["optimizer"]
    _choice("optimizer.name", opt["name"], list(OPTIMIZERS))
    _finite("optimizer.lr", opt["lr"], 0, strict=True)
    _finite("optimizer.weight_decay", opt["weight_decay"], 0)
    _finite("optimizer.min_lr", opt["min_lr"], 0)
    for key in ("momentum", "beta1", "beta2"):
        _finite(f"optimizer.{key}", opt[key], 0)
        if opt[key] >= 1:
            raise ConfigError(f"optimizer.{key}", opt[key], "must be < 1")
    _finite("optimizer.eps", opt["eps"], 0, strict=True)
    if opt["clip_norm"] is not None:
        _finite("optimizer.clip_norm", opt["clip_norm"], 0, strict=True)
    _choice("optimizer.schedule", opt["schedule"], SCHEDULES)

    from ..engine.probes import ProbeOptionError, ProbeOptions

    try:
        ProbeOptions.from_config(cfg["probe"])
    except ProbeOptionError as exc:
        raise ConfigError(f"probe.{exc.key}", exc.value, exc.problem) from None
    return cfg


def hidden_widths(cfg: dict) -> list[int]:
    model = cfg["model"]
    return list(model["widths"]) if model["widths"] is not None else [model["width"]] * model["depth"]


def flatten(cfg: dict, prefix: str = "") -> dict[str, Any]:
    """Nested dict -> ``{"optimizer.lr": 0.1, ...}``; lists and dicts kept as JSON-able values."""
    out = {}
    for key, value in cfg.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and key != "options":
            out.update(flatten(value, name + "."))
        else:
            out[name] = copy.deepcopy(value)
    return out

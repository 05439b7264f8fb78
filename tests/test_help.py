"""``python -m relu_study --help``: every config group and main key with its meaning
and current value, examples, the inspection flags, tab completion."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

import relu_study.conf
from relu_study.runs.cli import compose

CONF = Path(relu_study.conf.__file__).resolve().parent  # conf/ of the checkout, or the installed package


def help_text(*overrides) -> str:
    proc = subprocess.run([sys.executable, "-m", "relu_study", *overrides, "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def text():
    return help_text()


def line_of(text: str, key: str) -> str:
    """The help line of ``key=`` (a group may be written ``+group=``)."""
    found = [ln for ln in text.splitlines() if re.match(rf"^\s+\+?{re.escape(key)}=\s+\S", ln)]
    assert len(found) == 1, f"no line for {key}= in the help"
    return found[0]


def test_every_config_group_has_a_line_and_its_options(text):
    groups = sorted(str(d.relative_to(CONF)) for d in CONF.rglob("*") if d.is_dir() and any(d.glob("*.yaml"))
                    and d.relative_to(CONF).parts[0] != "hydra")
    assert {"activation", "dataset", "experiment", "experiment/arm", "hparams_search"} <= set(groups)
    options = text.split("Options of every group", 1)[1]
    for group in groups:
        line_of(text, group)
        listed = re.search(rf"^{re.escape(group)}: (.*)$", options, re.M).group(1).split(", ")
        assert listed == sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_every_main_key_has_a_line_with_its_default(text):
    primary = OmegaConf.load(CONF / "config.yaml")
    scalars = [k for k, v in primary.items() if k not in ("defaults", "hydra") and not OmegaConf.is_config(v)]
    assert {"alpha", "seed", "seeds", "epochs"} <= set(scalars)
    cfg = OmegaConf.to_container(compose([]), resolve=True)
    for key in scalars + ["optimizer.lr", "probe.enabled", "probe.max_samples"]:
        value = OmegaConf.select(OmegaConf.create(cfg), key)
        assert line_of(text, key).endswith(f"[{value}]"), key
    for group in ("activation", "dataset", "model", "init", "optimizer"):
        assert line_of(text, group).endswith(f"[{cfg[group]['name']}]")


def test_bracketed_values_follow_the_overrides():
    text = help_text("activation=leaky", "alpha=0.3", "experiment=c1_dying")
    assert line_of(text, "activation").endswith("[leaky]") and line_of(text, "alpha").endswith("[0.3]")
    assert line_of(text, "experiment").endswith("[c1_dying]") and line_of(text, "model").endswith("[deep]")


def test_examples_inspection_flags_completion_and_readme(text):
    examples = text.split("Examples", 1)[1].split("\n\n", 1)[0]
    assert len(re.findall(r"^\s+python -m relu_study ", examples, re.M)) == 3
    for needle in ("--cfg job", "--info", 'eval "$(relu-study -sc install=bash)"', "README.md"):
        assert needle in text


def test_tab_completion_of_the_console_script():
    script = shutil.which("relu-study", path=str(Path(sys.executable).parent)) or shutil.which("relu-study")
    assert script, "the relu-study console script is not installed"
    install = subprocess.run([script, "-sc", "install=bash"], capture_output=True, text=True, timeout=60)
    assert "complete" in install.stdout and "relu-study" in install.stdout
    line = "relu-study activation=le"
    query = subprocess.run([script, "-sc", "query=bash"], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "COMP_LINE": line, "COMP_POINT": str(len(line))})
    assert query.stdout.split() == ["activation=leaky"]

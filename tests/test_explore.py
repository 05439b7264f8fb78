"""Tests of the interactive activation explorer (Agg backend, no display)."""

import matplotlib

matplotlib.use("Agg")

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backend_bases import MouseEvent  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from relu_study.engine.activations import ACTIVATIONS, make_activation  # noqa: E402
from relu_study.tools.explore import PARAM_NAMES, THEMES, ActivationExplorer, activation_title, main  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def explorer():
    ex = ActivationExplorer("leaky", alpha=0.01, points=201)
    yield ex
    ex.close()


def assert_plots(ex, name, **params):
    """The plotted lines are exactly the registry's forward/derivative on ex.x."""
    act = make_activation(name, **params)
    np.testing.assert_array_equal(ex.fn_line.get_xdata(), ex.x)
    np.testing.assert_array_equal(ex.fn_line.get_ydata(), act.forward(ex.x))
    np.testing.assert_array_equal(ex.deriv_line.get_ydata(), act.derivative(ex.x))
    assert ex.ax.get_title() == activation_title(act)


def same_color(a, b):
    return to_rgba(a) == pytest.approx(to_rgba(b))


def click(ex, widget_ax):
    """Press and release the left button in the middle of a widget's axes."""
    ex.fig.canvas.draw()
    x, y = widget_ax.transAxes.transform((0.5, 0.5))
    for kind in ("button_press_event", "button_release_event"):
        MouseEvent(kind, ex.fig.canvas, x, y, button=1)._process()


# ----------------------------------------------------------------- construction


def test_builds_with_registry_widgets_and_labels(explorer):
    ex = explorer
    assert_plots(ex, "leaky", alpha=0.01)
    assert ex.ax.get_title() == "LeakyReLU(alpha=0.01)"
    assert ex.ax.get_xlabel() == "z (pre-activation)"
    assert ex.ax.get_ylabel() == "f(z), f'(z)"
    assert [t.get_text() for t in ex.legend.get_texts()] == ["f(z)", "f'(z)"]
    assert all(g.get_visible() for g in ex.ax.xaxis.get_gridlines())
    assert ex.ax.get_xlim() == (-3.0, 3.0)
    assert [t.get_text() for t in ex.selector.labels] == list(ACTIVATIONS)
    assert ex.selector.value_selected == "leaky"
    assert set(ex.sliders) == set(PARAM_NAMES) >= {"alpha", "lower", "upper", "beta"}
    assert ex.sliders["alpha"].label.get_text() == "alpha"
    assert ex.deriv_toggle.get_status() == [True]
    assert ex.theme_button is not None


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="valid choices"):
        ActivationExplorer("nope")
    with pytest.raises(ValueError, match="alpha"):
        ActivationExplorer("leaky", alpha=float("nan"))
    with pytest.raises(ValueError, match="xmin"):
        ActivationExplorer("leaky", x_range=(1, 1))
    with pytest.raises(ValueError, match="beta"):
        ActivationExplorer("softplus", beta=-1)
    with pytest.raises(ValueError, match="lower"):
        ActivationExplorer("rrelu", lower=0.5, upper=0.2)
    assert plt.get_fignums() == []  # validation happens before a figure exists


# ----------------------------------------------------------------- sliders and selector


def test_slider_redraws_with_registry_values(explorer):
    ex = explorer
    ex.sliders["alpha"].set_val(0.3)  # fires the callback
    assert ex.params["alpha"] == 0.3
    assert_plots(ex, "leaky", alpha=0.3)
    assert ex.ax.get_title() == "LeakyReLU(alpha=0.3)"


@pytest.mark.parametrize("alpha", [2.0, -0.5])
def test_alpha_outside_0_1_uses_the_masked_definition(explorer, alpha):
    ex = explorer
    ex.sliders["alpha"].set_val(alpha)
    x = ex.x
    expected = np.where(x > 0, x, alpha * x)
    np.testing.assert_array_equal(ex.fn_line.get_ydata(), expected)
    np.testing.assert_array_equal(ex.deriv_line.get_ydata(), np.where(x > 0, 1.0, alpha))
    if alpha > 1:  # max(alpha*z, z) coincides with the mask for alpha <= 1, negative alpha included
        assert not np.allclose(ex.fn_line.get_ydata(), np.maximum(alpha * x, x))


def test_any_finite_alpha_widens_the_slider():
    ex = ActivationExplorer("leaky", alpha=7.5, points=101)
    s = ex.sliders["alpha"]
    assert s.valmin <= -1 and s.valmax >= 7.5 and s.val == 7.5
    assert_plots(ex, "leaky", alpha=7.5)
    ex.set_alpha(-12.0)  # programmatic: slider follows and widens
    assert s.val == -12.0 and s.valmin <= -12.0 and s.ax.get_xlim()[0] <= -12.0
    assert_plots(ex, "leaky", alpha=-12.0)


def test_selector_switches_every_registered_activation(explorer):
    ex = explorer
    muted = THEMES["light"]["muted"]
    for i, name in enumerate(ACTIVATIONS):
        ex.selector.set_active(i)  # fires the callback
        assert ex.activation_name == name
        assert_plots(ex, name, **ex.params)
        for p, slider in ex.sliders.items():
            takes = p in ACTIVATIONS[name].params
            assert slider.get_active() is takes
            assert same_color(slider.label.get_color(), muted) is not takes
            assert slider.label.get_text().startswith(p)


def test_parameters_of_rrelu_and_softplus(explorer):
    ex = explorer
    ex.set_activation("rrelu")
    assert ex.selector.value_selected == "rrelu"
    ex.sliders["lower"].set_val(0.05)
    ex.sliders["upper"].set_val(0.45)
    assert_plots(ex, "rrelu", lower=0.05, upper=0.45)
    ex.sliders["lower"].set_val(0.8)  # past upper: upper follows
    assert ex.params["upper"] == 0.8 and ex.sliders["upper"].val == 0.8
    assert_plots(ex, "rrelu", lower=0.8, upper=0.8)
    ex.set_activation("softplus")
    ex.sliders["beta"].set_val(2.5)
    assert_plots(ex, "softplus", beta=2.5)
    with pytest.raises(ValueError):
        ex.set_param("beta", 0.0)
    assert ex.params["beta"] == 2.5


def test_alpha_is_shared_by_the_activations_taking_it(explorer):
    ex = explorer
    ex.sliders["alpha"].set_val(0.7)
    ex.set_activation("elu")
    assert_plots(ex, "elu", alpha=0.7)
    ex.set_activation("relu")
    assert_plots(ex, "relu")
    assert not ex.sliders["alpha"].get_active()


# ----------------------------------------------------------------- derivative toggle


def test_derivative_toggle_hides_and_shows(explorer):
    ex = explorer
    ex.deriv_toggle.set_active(0)  # fires the callback
    assert not ex.show_derivative and not ex.deriv_line.get_visible()
    assert [t.get_text() for t in ex.legend.get_texts()] == ["f(z)"]
    ex.deriv_toggle.set_active(0)
    assert ex.show_derivative and ex.deriv_line.get_visible()
    assert [t.get_text() for t in ex.legend.get_texts()] == ["f(z)", "f'(z)"]
    ex.toggle_derivative()
    assert not ex.deriv_line.get_visible() and ex.deriv_toggle.get_status() == [False]
    ex.set_show_derivative(True)
    assert ex.deriv_line.get_visible() and ex.deriv_toggle.get_status() == [True]


# ----------------------------------------------------------------- theme


def assert_theme(ex, name):
    t = THEMES[name]
    ex.fig.canvas.draw()  # tick labels exist and are current
    assert ex.theme == name
    assert same_color(ex.fig.get_facecolor(), t["figure"])
    assert same_color(ex.ax.get_facecolor(), t["axes"])
    texts = [ex.ax.title, ex.ax.xaxis.label, ex.ax.yaxis.label]
    texts += ex.ax.get_xticklabels() + ex.ax.get_yticklabels() + ex.legend.get_texts()
    texts += ex.selector.labels + ex.deriv_toggle.labels + [ex.theme_button.label]
    texts += [ex.sliders["alpha"].label, ex.sliders["alpha"].valtext]
    for text in texts:
        assert same_color(text.get_color(), t["text"]), text
    assert same_color(ex.selector.ax.get_facecolor(), t["panel"])
    assert same_color(ex.theme_button.ax.get_facecolor(), t["button"])
    assert same_color(ex.sliders["alpha"].poly.get_facecolor(), t["bar"])
    assert same_color(ex.sliders["alpha"].track.get_facecolor(), t["track"])
    assert same_color(ex.sliders["beta"].label.get_color(), t["muted"])  # leaky takes no beta
    assert same_color(ex.fn_line.get_color(), t["fn"])


def test_theme_switch_restyles_everything_both_ways(explorer):
    ex = explorer
    assert_theme(ex, "light")
    click(ex, ex.theme_button.ax)  # the button cycles light -> dark
    assert_theme(ex, "dark")
    ex.set_theme("light")
    assert_theme(ex, "light")
    ex.set_theme("dark")
    ex.set_activation("softplus")  # enabling a slider under the dark theme
    assert same_color(ex.sliders["beta"].label.get_color(), THEMES["dark"]["text"])
    with pytest.raises(ValueError, match="theme"):
        ex.set_theme("sepia")


# ----------------------------------------------------------------- saving and CLI


def test_main_saves_png_of_exact_size(tmp_path):
    out = tmp_path / "leaky.png"
    rc = main(["--activation", "leaky", "--alpha", "2", "--theme", "dark", "--save", str(out), "--size", "640x480"])
    assert rc == 0
    img = mpimg.imread(out)
    assert img.shape[:2] == (480, 640)
    assert tuple(img[0, 0, :3]) == pytest.approx(to_rgba(THEMES["dark"]["figure"])[:3], abs=1 / 255)
    assert plt.get_fignums() == []  # the headless path never touches pyplot


def test_save_of_the_interactive_figure(explorer, tmp_path):
    out = explorer.save(tmp_path / "widgets.png")
    assert mpimg.imread(out).shape[:2] == (700, 1000)


def _env_without_display():
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "relu_study.explore", *args],
        capture_output=True, text=True, env=_env_without_display(), cwd=REPO, timeout=60,
    )


def test_cli_headless_save(tmp_path):
    out = tmp_path / "leaky.png"
    proc = run_cli("--activation", "leaky", "--alpha", "0.1", "--theme", "dark", "--save", str(out))
    assert proc.returncode == 0, proc.stderr
    assert mpimg.imread(out).shape[:2] == (700, 1000)


@pytest.mark.parametrize(
    "args, option, value",
    [
        (["--activation", "nope"], "--activation", "nope"),
        (["--alpha", "abc"], "--alpha", "abc"),
        (["--alpha", "nan"], "--alpha", "nan"),
    ],
)
def test_cli_bad_arguments(tmp_path, args, option, value):
    """A real process: exit 2, one line ``error: ...`` naming the argument and the value, no file."""
    proc = run_cli(*args, "--save", str(tmp_path / "x.png"), "--html", str(tmp_path / "x.html"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    assert option in proc.stderr and value in proc.stderr
    if option == "--activation":
        assert all(name in proc.stderr for name in ACTIVATIONS)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--xmin", "2", "--xmax", "1"], ["--xmin", "2", "--xmax 1"]),
        (["--size", "640by480"], ["--size", "640by480"]),
        (["--size", "0x480"], ["--size", "0x480"]),
        (["--beta", "-1", "--activation", "softplus"], ["beta", "-1"]),
        (["--lower", "0.5", "--upper", "0.2"], ["lower", "0.5", "upper", "0.2"]),
        (["--points", "1"], ["--points", "'1'"]),
        (["--dpi", "0"], ["--dpi", "'0'"]),
        (["--theme", "blue"], ["--theme", "'blue'"]),
        (["--colour", "red"], ["unrecognized", "--colour"]),
        (["--save", "x.nope"], ["--save", "'nope'"]),
        (["--results", "somewhere"], ["--results", "somewhere", "--html"]),
    ],
)
def test_main_bad_arguments_in_process(tmp_path, capsys, monkeypatch, args, needles):
    monkeypatch.chdir(tmp_path)
    if "--save" not in args:
        args = [*args, "--save", str(tmp_path / "x.png")]
    assert_one_line_error(capsys, args, needles)
    assert list(tmp_path.iterdir()) == []


def assert_one_line_error(capsys, args, needles):
    """``main(args)`` exits 2 with one line ``error: ...`` holding every needle."""
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert all(n in err for n in needles), err


def test_html_bad_arguments_create_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "claims.json").write_text('{"claims": [{"id": "C1", "title": "t", "verdict": "maybe"}]}')
    cases = [
        (["--html", "folder"], ["--html", "folder", "is a folder"]),
        (["--html", "out/page.html", "--results", "nowhere"], ["--results", "nowhere", "claims.json"]),
        (["--html", "out/page.html", "--results", "bad"], ["claims.json", "verdict='maybe'"]),
        (["--html", "out/page.html", "--activation", "softplus", "--beta", "0"], ["beta", "0"]),
    ]
    for args, needles in cases:
        assert_one_line_error(capsys, args, needles)
        assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "folder"]


def test_main_writes_the_html_page(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no results/ here: the page says how to make claims.json
    out = tmp_path / "pages" / "explorer.html"
    assert main(["--html", str(out), "--activation", "elu", "--alpha", "0.5"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    text = out.read_text()
    assert '"activation":"elu"' in text and '"alpha":0.5' in text
    assert 'id="rs-no-claims"' in text
    assert plt.get_fignums() == []  # no figure for the page


# ----------------------------------------------------------------- titles and the window toolbar


def test_title_shows_rounded_parameter_values(explorer):
    ex = explorer
    ex.set_alpha(0.1 + 0.2)
    assert ex.params["alpha"] == 0.30000000000000004  # the value used is exact ...
    assert ex.ax.get_title() == "LeakyReLU(alpha=0.3)"  # ... the title is rounded
    ex.set_activation("rrelu")
    assert ex.ax.get_title() == "RReLU(lower=0.125, upper=0.3333)"
    ex.set_activation("gelu")
    assert ex.ax.get_title() == "GELU()"


_TK_SCRIPT = """
import json
import matplotlib
matplotlib.use("TkAgg")
from relu_study.tools.explore import ActivationExplorer
ex = ActivationExplorer("leaky", alpha=0.1, theme="dark")
tb = ex.fig.canvas.manager.toolbar
buttons = list(tb._buttons.values())
def state():
    return {"bar": tb.cget("background"), "button": buttons[0].cget("background"),
            "text": buttons[0].cget("foreground"), "message": tb._message_label.cget("foreground"),
            "light_icons": sorted({str(b.cget("image")) == str(b._ntimage_alt) for b in buttons})}
out = {"dark": state()}
ex.set_theme("light")
out["light"] = state()
out["title"] = ex.fig.canvas.manager.get_window_title()
print(json.dumps(out))
"""


def test_toolbar_follows_the_theme_on_tk():
    """The Tk window's toolbar takes the theme's colours, with light icons on the dark bar.

    Needs a display: an X virtual framebuffer (``Xvfb``, installed by ``.ci/run``)."""
    import json
    import shutil
    import time

    pytest.importorskip("tkinter")
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb not installed (apt-get install xvfb): no display for a Tk window")
    display = f":{100 + os.getpid() % 400}"
    server = subprocess.Popen([xvfb, display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        env = {**_env_without_display(), "DISPLAY": display}
        for _ in range(50):  # wait for the server to accept clients
            probe = subprocess.run([sys.executable, "-c", "import tkinter; tkinter.Tk().destroy()"], env=env,
                                   capture_output=True, timeout=30)
            if probe.returncode == 0:
                break
            time.sleep(0.1)
        proc = subprocess.run([sys.executable, "-c", _TK_SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for theme in ("dark", "light"):
        t = THEMES[theme]
        assert out[theme] == {"bar": t["panel"], "button": t["panel"], "text": t["text"], "message": t["text"],
                              "light_icons": [theme == "dark"]}
    assert out["title"] == "relu_study explorer: LeakyReLU(alpha=0.1)"

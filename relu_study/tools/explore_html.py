"""The activation explorer as one web page: ``python -m relu_study.explore --html PATH``.

The page holds an activation selector listing the registry, a slider and a
text box per parameter, a derivative switch, the formula of the current
activation, the light/dark theme switch, and the explainer: what Leaky ReLU
is, the claims about it with the verdicts and numbers of the generated report,
and a correct NumPy version.

Curves are computed in the page (``relu_study/web/assets/activations.js``),
not precomputed: any typed parameter value works, and the file stays small.
The JavaScript mirrors each registry class operation for operation; the
browser tests compare it with the registry at thousands of points per
activation and several parameter values.  What the page learns from Python is
the registry itself: names, class names, parameters, their defaults and
slider spans, so a new activation shows up here (and a missing JavaScript
port is reported in the browser console, which the tests treat as a failure).

The claims come from ``claims.json`` in a results folder (written by the
claims report); without one the page says how to make it and shows no numbers.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .._version import __version__
from ..engine.activations import ACTIVATIONS
from ..web import esc, render_page
from .explore_params import _FALLBACK_RANGE, _ORDERED_PAIRS, PARAM_NAMES, SLIDER_RANGES, param_defaults

__all__ = ["CLAIMS_FILE", "VERDICTS", "explorer_html", "find_claims", "load_claims", "write_explorer_html"]

CLAIMS_FILE = "claims.json"
#: the verdict words of the claims report, and the CSS class of each
VERDICTS = {"supported": "v-supported", "not supported": "v-not-supported", "contradicted": "v-contradicted",
            "inconclusive": "v-inconclusive", "depends on slope or setting": "v-depends"}
#: z ranges the page offers (plus and minus), and the points per curve
Z_RANGES = (1, 3, 6, 10)
POINTS = 1201  # (z range) / 600 apart: z = -1, 0 and 1 are grid points for every range offered

_HOW_TO = ("No claims summary was found, so this page shows no numbers. The claims report writes one: run "
           "<code>python -m relu_study.reproduce</code> (it writes <code>results/claims.json</code> beside "
           "<code>results/REPORT.md</code>), or <code>python -m relu_study.report SWEEPS --out DIR</code> for your "
           "own sweeps; then make this page again with "
           "<code>python -m relu_study.explore --html PATH --results DIR</code>.")


# ----------------------------------------------------------------------------- claims

def find_claims(results=None) -> Path | None:
    """The ``claims.json`` to use: in ``results`` (a folder, or the file itself)
    when given (``FileNotFoundError`` if it is not there), else
    ``./results/claims.json`` when it exists, else None."""
    if results is None:
        default = Path("results") / CLAIMS_FILE
        return default if default.is_file() else None
    path = Path(results)
    if path.is_dir():
        path = path / CLAIMS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (the claims report writes {CLAIMS_FILE})")
    return path


def load_claims(path) -> dict:
    """Read and check a claims summary (the contract of the claims report).

    Raises ``ValueError`` naming the file and what is wrong, so a malformed
    file stops the page instead of showing made-up or missing numbers.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable JSON file ({exc})") from None

    def bad(what):
        return ValueError(f"{path}: {what}")

    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise bad('expected an object with a "claims" list')
    for i, c in enumerate(data["claims"]):
        if not isinstance(c, dict):
            raise bad(f"claims[{i}] is not an object")
        for key in ("id", "title", "verdict"):
            if not isinstance(c.get(key), str) or not c[key]:
                raise bad(f"claims[{i}].{key} must be a non-empty string, got {c.get(key)!r}")
        if c["verdict"] not in VERDICTS:
            raise bad(f"claims[{i}].verdict={c['verdict']!r}; expected one of {', '.join(VERDICTS)}")
        arms = c.get("arms") or []
        if not isinstance(arms, list) or not all(isinstance(a, dict) for a in arms):
            raise bad(f"claims[{i}].arms must be a list of objects")
        for j, a in enumerate(arms):
            if a.get("verdict") not in VERDICTS:
                raise bad(f"claims[{i}].arms[{j}].verdict={a.get('verdict')!r}; expected one of {', '.join(VERDICTS)}")
            for key in ("effect", "lo", "hi"):
                v = a.get(key)
                if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v)):
                    raise bad(f"claims[{i}].arms[{j}].{key} must be a finite number or null, got {v!r}")
    return data


def _num(v) -> str:
    if v is None:
        return "–"
    return f"{v:.3g}".replace("-", "−")


def _verdict(word: str, href: str | None = None) -> str:
    cls = VERDICTS.get(word, "v-inconclusive")
    if href:
        return f'<a class="rs-verdict {cls}" href="{esc(href)}">{esc(word)}</a>'
    return f'<span class="rs-verdict {cls}">{esc(word)}</span>'


def _claims_html(claims: dict | None, source: str, report_href: str | None) -> str:
    if claims is None:
        return f'<p class="rs-note" id="rs-no-claims">{_HOW_TO}</p>'
    meta = []
    if claims.get("generated"):
        meta.append(f"generated {esc(claims['generated'])}")
    if claims.get("command"):
        meta.append(f"by <code>{esc(claims['command'])}</code>")
    if claims.get("version"):
        meta.append(f"relu_study {esc(claims['version'])}")
    report = f' Full report: <a href="{esc(report_href)}">{esc(Path(report_href.split("#")[0]).name)}</a>.' \
        if report_href else ""
    out = [f'<p class="rs-muted">Verdicts and numbers from <code>{esc(source)}</code> ({", ".join(meta)}), '
           f"computed by the claims report, not typed here.{report}</p>", '<ol class="rs-claims">']
    for c in claims["claims"]:
        href = f"{report_href}#{c['anchor']}" if report_href and c.get("anchor") else None
        by = ' <span class="rs-muted">(by construction)</span>' if c.get("by_construction") else ""
        out.append(f'<li id="claim-{esc(c["id"])}" data-claim="{esc(c["id"])}">')
        out.append(f"<h3>{esc(c['id'])}: {esc(c['title'])}</h3>")
        if c.get("claim"):
            out.append(f'<p class="rs-claim-text">The usual wording: “{esc(c["claim"])}”</p>')
        out.append(f"<p>Verdict: {_verdict(c['verdict'], href)}{by}</p>")
        if c.get("summary"):
            out.append(f"<p>{esc(c['summary'])}</p>")
        arms = c.get("arms") or []
        if arms:
            out.append("<table><thead><tr><th>arm</th><th>verdict</th><th>metric</th>"
                       "<th>effect vs ReLU [95% CI]</th><th>n</th></tr></thead><tbody>")
            for a in arms:
                ci = f" [{_num(a.get('lo'))}, {_num(a.get('hi'))}]" if a.get("lo") is not None else ""
                out.append(f"<tr><td>{esc(a.get('arm', ''))}</td><td>{_verdict(a['verdict'])}</td>"
                           f"<td>{esc(a.get('metric', ''))}</td><td>{_num(a.get('effect'))}{ci}</td>"
                           f"<td>{esc(a.get('n', ''))}</td></tr>")
            out.append("</tbody></table>")
        out.append("</li>")
    out.append("</ol>")
    return "\n".join(out)


# ----------------------------------------------------------------------------- controls

def _step(lo: float, hi: float) -> float:
    return 10.0 ** math.floor(math.log10((hi - lo) / 200))


def _spec(activation: str, params: dict[str, float], show_derivative: bool, z_range: float) -> dict:
    return {
        "activations": [{"name": n, "cls": cls.__name__, "params": list(cls.params)} for n, cls in ACTIVATIONS.items()],
        "params": [{"name": p, "lo": min(SLIDER_RANGES.get(p, _FALLBACK_RANGE)[0], params[p]),
                    "hi": max(SLIDER_RANGES.get(p, _FALLBACK_RANGE)[1], params[p]),
                    "default": params[p]} for p in PARAM_NAMES],
        "ordered": [list(pair) for pair in _ORDERED_PAIRS],
        "initial": {"activation": activation, "params": params, "showDerivative": show_derivative, "range": z_range},
        "points": POINTS,
    }


def _controls(spec: dict) -> str:
    chosen = spec["initial"]["activation"]
    options = "".join(f'<option value="{esc(a["name"])}"{" selected" if a["name"] == chosen else ""}>'
                      f'{esc(a["name"])} ({esc(a["cls"])})</option>' for a in spec["activations"])
    rows = []
    for p in spec["params"]:
        name, lo, hi = p["name"], p["lo"], p["hi"]
        rows.append(
            f'<div class="rs-param" data-param="{esc(name)}">'
            f'<label for="rs-p-{esc(name)}">{esc(name)}<span class="rs-used"></span></label>'
            f'<input type="range" id="rs-p-{esc(name)}-range" aria-label="{esc(name)} slider" '
            f'min="{lo!r}" max="{hi!r}" step="{_step(lo, hi)!r}" value="{p["default"]!r}">'
            f'<input type="text" id="rs-p-{esc(name)}" inputmode="decimal" size="9" value="{p["default"]!r}" '
            f'aria-describedby="rs-p-{esc(name)}-err" title="type any finite value and press Enter">'
            f'<span class="rs-err" id="rs-p-{esc(name)}-err" role="alert"></span></div>')
    ranges = "".join(f'<option value="{r}"{" selected" if r == spec["initial"]["range"] else ""}>±{r}</option>'
                     for r in Z_RANGES)
    checked = " checked" if spec["initial"]["showDerivative"] else ""
    return f"""<section class="rs-explorer" aria-label="activation explorer">
<div class="rs-controls">
<div class="rs-row"><label for="rs-act">activation</label><select id="rs-act">{options}</select></div>
{''.join(rows)}
<div class="rs-row"><label><input type="checkbox" id="rs-deriv"{checked}> show f′(z)</label></div>
<div class="rs-row"><label for="rs-range">z range</label><select id="rs-range">{ranges}</select></div>
<p class="rs-muted rs-small">Sliders span the usual values; type any finite value in a box (e.g. alpha = 2 or −0.5) and
press Enter. alpha is shared by leaky, prelu and elu, as in a config.</p>
</div>
<div class="rs-plotbox">
<div class="rs-formula"><div id="rs-formula-f"></div>
<div id="rs-formula-df" class="rs-muted"></div></div>
<div id="rs-plot" data-role="explorer-plot"></div>
<p id="rs-readout" class="rs-muted"></p>
</div>
</section>"""


def _explainer(claims_html: str) -> str:
    return f"""<article class="rs-explain">
<h2 id="definition">Leaky ReLU</h2>
<p>With a slope α for the negative side,</p>
<pre><code>f(z)  = z        if z &gt; 0,  α·z  otherwise
f′(z) = 1        if z &gt; 0,  α    otherwise   (at z = 0 the α branch, as in PyTorch)</code></pre>
<p>α = 0 is ReLU and α = 1 the identity; α &gt; 1 and α &lt; 0 are legal, if odd, functions (try α = 2 above).
The motivation: a ReLU unit whose input is never positive outputs 0 and receives no gradient, so it cannot
recover — a <em>dead</em> unit. With α ≠ 0 the negative side still passes a gradient α, so the unit can move.
Whether that makes networks train better is an empirical question, and the claims below are tested, not assumed.
In relu_study a unit is counted <em>dead</em> (<code>dead_frac</code>) when its input is never positive on the
probe set, and <em>truly dead</em> (<code>zero_grad_frac</code>) when f′(z) = 0 on every probe sample.
PReLU learns α per unit; RReLU draws it at random during training and uses the mean slope at evaluation.</p>
<h2 id="claims">The claims, tested</h2>
{claims_html}
<h2 id="numpy">In NumPy</h2>
<pre><code>import numpy as np

def leaky_relu(z, alpha=0.01):
    return np.where(z &gt; 0, z, alpha * z)

def leaky_relu_grad(z, alpha=0.01):
    return np.where(z &gt; 0, 1.0, alpha)</code></pre>
<p>The shortcut <code>np.maximum(alpha * z, z)</code> is only right for α ≤ 1: it takes the larger of z and α·z,
which for α &gt; 1 is α·z when z &gt; 0 and z when z &lt; 0, the wrong branch on both sides.</p>
<p id="rs-numpy-check" class="rs-note"></p>
<h2 id="about">About this page</h2>
<p class="rs-muted">Written by <code>python -m relu_study.explore --html</code> (relu_study {esc(__version__)}).
One file, no network: the curves are computed in the page by JavaScript ports of the activation registry
(<code>relu_study.engine.activations</code>; GELU's exact erf form included), which the test suite checks against
the Python registry at thousands of points per activation. The theme follows the system setting until you choose
one, which this browser then remembers.</p>
</article>"""


def explorer_html(*, activation: str = "leaky", params: dict[str, float] | None = None, show_derivative: bool = True,
                  z_range: float = 3, claims: dict | None = None, claims_source: str = "",
                  report_href: str | None = None) -> str:
    """The explorer page as a string.

    ``params`` override :func:`~relu_study.tools.explore.param_defaults` of
    ``activation``; ``claims`` is a loaded claims summary (:func:`load_claims`)
    or None, ``claims_source`` where it came from, ``report_href`` the link to
    the full report (relative to the page) that claim anchors are appended to.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; valid choices: {', '.join(ACTIVATIONS)}")
    if z_range not in Z_RANGES:
        raise ValueError(f"z range must be one of {Z_RANGES}, got {z_range!r}")
    values = param_defaults(activation)
    values.update(params or {})
    spec = _spec(activation, values, show_derivative, z_range)
    body = _controls(spec) + "\n" + _explainer(_claims_html(claims, claims_source, report_href))
    return render_page("Leaky ReLU, explored — relu_study", body, data={"explorer": spec}, charts=True,
                       scripts=("activations.js", "explorer.js"), heading="activation explorer")


def _href(target: Path, page: Path) -> str:
    """A link from the page's folder to ``target``: relative when possible."""
    try:
        return Path(os.path.relpath(target.resolve(), page.resolve().parent)).as_posix()
    except ValueError:  # another drive (Windows)
        return target.resolve().as_uri()


def write_explorer_html(path, *, results=None, **kwargs) -> Path:
    """Write the explorer page to ``path`` (atomically) and return it.

    ``results``: the folder holding ``claims.json`` (see :func:`find_claims`);
    the claims link to ``REPORT.html`` in that folder when it exists, else to
    ``REPORT.md``.  Other keywords go to :func:`explorer_html`.
    """
    from ..runs.folders import atomic_path

    path = Path(path)
    claims_path = find_claims(results)
    claims = load_claims(claims_path) if claims_path is not None else None
    report_href = None
    if claims_path is not None:
        for name in ("REPORT.html", "REPORT.md"):
            if (claims_path.parent / name).is_file():
                report_href = _href(claims_path.parent / name, path)
                break
    source = str(claims_path) if claims_path is not None else ""
    text = explorer_html(claims=claims, claims_source=source, report_href=report_href, **kwargs)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path

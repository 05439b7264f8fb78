/* The activation explorer page: wires the controls the Python generator wrote
   (relu_study.tools.explore_html) to the activations in activations.js and
   the chart renderer in chart.js.

   State, as in the desktop explorer: the chosen activation, one value per
   parameter name shared by the activations taking it (alpha is leaky's slope,
   prelu's initial slope and elu's scale), the derivative switch, the z range.
   A typed value is applied when it is a finite number that every activation
   taking that parameter accepts; otherwise the box says why and nothing
   changes.  A value outside a slider's span widens the slider.

   RS.explorer exposes the state and the plotted data (x, f, df) for tests and
   for the curious reader's console. */
(function () {
  "use strict";
  var RS = window.RS, cfg = RS.pageData().explorer;
  var DERIV = "f\u2032(z)", FN = "f(z)";
  var NUMBER = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
  var missing = cfg.activations.filter(function (a) { return !RS.activations[a.name]; });
  if (missing.length) {
    console.error("relu_study explorer: no JavaScript implementation of " +
      missing.map(function (a) { return a.name; }).join(", "));
  }
  var state = {
    activation: cfg.initial.activation,
    params: Object.assign({}, cfg.initial.params),
    showDerivative: cfg.initial.showDerivative,
    range: cfg.initial.range
  };
  var ex = RS.explorer = { state: state, data: null, handle: null };
  function $(id) { return document.getElementById(id); }
  function fmt(v) { return RS.fmt(v, 6).replace("-", "\u2212"); }

  function grid() {
    var n = cfg.points, lo = -state.range, hi = state.range, xs = new Array(n);
    for (var i = 0; i < n; i++) xs[i] = (lo * (n - 1 - i) + hi * i) / (n - 1);  /* exact at the integers */
    return xs;
  }
  function takes(name) { return RS.activations[state.activation] ? RS.activations[state.activation].params.indexOf(name) >= 0 : false; }
  /* the first problem any registered activation has with these values, or "" */
  function problem(params) {
    for (var i = 0; i < cfg.activations.length; i++) {
      var a = RS.activations[cfg.activations[i].name];
      var msg = a && a.check ? a.check(params) : "";
      if (msg) return msg;
    }
    return "";
  }

  function chartOf(data, label) {
    return {
      name: "explorer", title: "", kind: "lines", columns: 1, caption: "", meta: {},
      panels: [{
        title: label, xlabel: "z (pre-activation)", ylabel: "f(z), f\u2032(z)", logx: false, logy: false,
        ylim: null, categories: null, hline: 0, vline: 0, xlim: [-state.range, state.range], empty: "no finite value",
        series: [
          { name: FN, x: data.x, y: data.f, lo: null, hi: null, n: null, style: "solid", color: null },
          { name: DERIV, x: data.x, y: data.df, lo: null, hi: null, n: null, style: "dashed", color: null }
        ]
      }]
    };
  }

  function update() {
    var name = state.activation, p = state.params, a = RS.activations[name];
    if (!a) return;
    var xs = grid(), v = RS.evaluate(name, p, xs);
    ex.data = { x: xs, f: v.f, df: v.df };
    var label = RS.activationLabel(name, p);
    var chart = chartOf(ex.data, label);
    if (!ex.handle) {
      ex.handle = RS.drawChart($("rs-plot"), chart, {
        title: false, caption: false, hidden: state.showDerivative ? [] : [DERIV], width: 640, height: 400,
        onToggle: function (series, visible) { if (series === DERIV) setShowDerivative(visible); }
      });
    } else {
      ex.handle.chart = chart;
      if (state.showDerivative) ex.handle.hidden.delete(DERIV); else ex.handle.hidden.add(DERIV);
      ex.handle.redraw();
    }
    var lines = a.formula(p);
    $("rs-formula-f").textContent = lines[0];
    $("rs-formula-df").textContent = lines[1];
    var at = RS.evaluate(name, p, [-1, 1]);
    $("rs-readout").textContent = "z = \u22121: f = " + fmt(at.f[0]) + ", f\u2032 = " + fmt(at.df[0]) +
      "   \u00b7   z = 1: f = " + fmt(at.f[1]) + ", f\u2032 = " + fmt(at.df[1]);
    numpyCheck();
    document.querySelectorAll(".rs-param").forEach(function (row) {
      var on = takes(row.dataset.param);
      row.classList.toggle("rs-unused", !on);
      row.querySelectorAll("input").forEach(function (inp) { inp.disabled = !on; });
      row.querySelector(".rs-used").textContent = on ? "" : " (not used by " + name + ")";
    });
  }

  /* the NumPy section: what np.where and np.maximum give at z = +-1 for the current alpha */
  function numpyCheck() {
    var out = $("rs-numpy-check");
    if (!out) return;
    var al = state.params.alpha, w1 = 1, wm1 = al * -1, m1 = Math.max(al * 1, 1), mm1 = Math.max(al * -1, -1);
    var same = w1 === m1 && wm1 === mm1;
    out.textContent = "With \u03b1 = " + fmt(al) + ": np.where(z > 0, z, alpha * z) gives " + fmt(w1) + " at z = 1 and " +
      fmt(wm1) + " at z = \u22121; np.maximum(alpha * z, z) gives " + fmt(m1) + " and " + fmt(mm1) +
      (same ? " \u2014 the same here, because \u03b1 \u2264 1." : " \u2014 wrong, because \u03b1 > 1.");
    out.dataset.agree = same ? "yes" : "no";
  }

  function syncInputs(name) {
    var v = state.params[name], range = $("rs-p-" + name + "-range"), box = $("rs-p-" + name);
    if (!range) return;
    if (v < +range.min) range.min = String(v);
    if (v > +range.max) range.max = String(v);
    range.value = String(v);
    if (document.activeElement !== box) box.value = String(+v.toPrecision(12));
    box.removeAttribute("aria-invalid");
    $("rs-p-" + name + "-err").textContent = "";
  }

  /* set parameter name to value (a number or typed text); returns "" or the problem */
  function setParam(name, value) {
    if (!(name in state.params)) return "unknown parameter " + name;
    var text = String(value), v = typeof value === "number" ? value : (NUMBER.test(text) ? Number(text) : NaN);
    if (!isFinite(v)) return name + " must be a finite number, got '" + text.trim() + "'";
    var next = Object.assign({}, state.params);
    next[name] = v;
    (cfg.ordered || []).forEach(function (pair) {  /* moving lower past upper drags upper along, and back */
      if (name === pair[0] && next[pair[0]] > next[pair[1]]) next[pair[1]] = next[pair[0]];
      if (name === pair[1] && next[pair[1]] < next[pair[0]]) next[pair[0]] = next[pair[1]];
    });
    var msg = problem(next);
    if (msg) return msg;
    state.params = next;
    Object.keys(next).forEach(syncInputs);
    update();
    return "";
  }
  function setActivation(name) {
    if (!RS.activations[name]) return "unknown activation " + name;
    state.activation = name;
    $("rs-act").value = name;
    update();
    return "";
  }
  function setShowDerivative(show) {
    state.showDerivative = !!show;
    $("rs-deriv").checked = state.showDerivative;
    update();
  }
  function setRange(r) {
    state.range = +r;
    $("rs-range").value = String(r);
    update();
  }
  ex.setParam = setParam;
  ex.setActivation = setActivation;
  ex.setShowDerivative = setShowDerivative;
  ex.setRange = setRange;

  /* ---------------------------------------------------------------- wiring */
  $("rs-act").addEventListener("change", function (e) { setActivation(e.target.value); });
  $("rs-deriv").addEventListener("change", function (e) { setShowDerivative(e.target.checked); });
  $("rs-range").addEventListener("change", function (e) { setRange(e.target.value); });
  Object.keys(state.params).forEach(function (name) {
    var range = $("rs-p-" + name + "-range"), box = $("rs-p-" + name), err = $("rs-p-" + name + "-err");
    if (!range) return;
    range.addEventListener("input", function () {
      var msg = setParam(name, Number(range.value));
      if (msg) { err.textContent = msg; syncRangeBack(name); }
      else box.value = range.value;
    });
    function commit(showError) {
      var msg = setParam(name, box.value);
      if (msg && showError) { box.setAttribute("aria-invalid", "true"); err.textContent = msg; }
    }
    box.addEventListener("input", function () { commit(false); });  /* live while the text is a valid value */
    box.addEventListener("change", function () { commit(true); });
    box.addEventListener("keydown", function (e) { if (e.key === "Enter") commit(true); });
  });
  function syncRangeBack(name) { $("rs-p-" + name + "-range").value = String(state.params[name]); }

  Object.keys(state.params).forEach(syncInputs);
  update();
})();

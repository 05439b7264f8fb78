/* relu_study charts in the browser: draws the JSON of a relu_study.charts.Chart
   as SVG (the same numbers as the PNG beside it).

   RS.drawChart(host, chart, opts) draws one chart into the element host and
   returns its handle {id, chart, host, hidden, redraw}; RS.charts lists every
   handle on the page (tests read the plotted data there).  RS.renderAll()
   draws every element with a data-chart="id" attribute from the page's data
   (RS.data.charts[id]).

   Kept from the Python renderer: null is a gap, never 0; an interval is drawn
   only where lo and hi are given; a panel without a finite value shows
   Panel.empty in words; log axes leave out values <= 0.  Added here: hovering
   shows x, y, the interval and n of the nearest point; a legend entry hides
   or shows its series (RS.setSeriesVisible does it for every chart at once).
   Colours come with each series (relu_study.charts.PALETTE: every colour at
   least 3:1 against both themes' backgrounds, so the theme switch needs no
   other colours); a series without one takes a CSS variable (--c0 ... --c9). */
(function () {
  "use strict";
  var RS = window.RS = window.RS || {};
  var SVGNS = "http://www.w3.org/2000/svg";  /* a namespace name, never fetched */
  var DASH = { solid: "", dashed: "7 4", dotted: "2 3" };
  RS.charts = RS.charts || [];
  var colorIndex = new Map();

  function el(tag, attrs, parent) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function html(tag, cls, parent, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function fin(v) { return typeof v === "number" && isFinite(v); }
  function fmt(v, digits) {
    if (!fin(v)) return String(v);
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential((digits || 4) - 1);
    return String(+v.toPrecision(digits || 4));
  }
  RS.fmt = fmt;

  /* a series carries its colour from relu_study.charts (the palette keyed by
     arm, the same in the PNG); a chart without one falls back to one colour
     per series name on the whole page (first seen, first colour) */
  var seenColor = new Map();
  function colorOf(s) {
    if (s.color) { seenColor.set(s.name, s); return s.color; }
    if (seenColor.has(s.name)) return seenColor.get(s.name).color;
    if (!colorIndex.has(s.name)) colorIndex.set(s.name, colorIndex.size);
    return "var(--c" + (colorIndex.get(s.name) % 10) + ")";
  }
  function dashOf(s) {
    if (s.style && s.style !== "solid") return DASH[s.style] || "";
    var i = s.color ? 0 : (colorIndex.get(s.name) || 0);
    return ["", DASH.dashed, DASH.dotted][Math.floor(i / 10) % 3];  /* past ten colours, vary the dash */
  }

  /* ------------------------------------------------------------ scales */
  function niceStep(span, n) {
    var raw = span / n, p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }
  function linTicks(lo, hi, n) {
    var s = niceStep(hi - lo, n), out = [];
    for (var k = Math.ceil(lo / s - 1e-9); k * s <= hi + s * 1e-9; k++) out.push(+(k * s).toPrecision(12));
    return out;
  }
  function logTicks(lo, hi) {
    var e0 = Math.ceil(Math.log10(lo) - 1e-9), e1 = Math.floor(Math.log10(hi) + 1e-9), out = [], e, m;
    if (e1 - e0 >= 1) {
      var step = Math.max(1, Math.ceil((e1 - e0 + 1) / 7));
      for (e = e0; e <= e1; e += step) out.push(Math.pow(10, e));
      return out;
    }
    for (e = e0 - 1; e <= e1 + 1; e++) {
      [1, 2, 5].forEach(function (mm) { m = mm * Math.pow(10, e); if (m >= lo * (1 - 1e-9) && m <= hi * (1 + 1e-9)) out.push(m); });
    }
    return out.length ? out : [lo, hi];
  }
  function scale(lo, hi, r0, r1, log) {
    var f = log ? function (v) { return Math.log10(v); } : function (v) { return v; };
    var a = f(lo), b = f(hi), k = (r1 - r0) / (b - a);
    var s = function (v) { return r0 + (f(v) - a) * k; };
    s.ticks = function (n) { return log ? logTicks(lo, hi) : linTicks(lo, hi, n); };
    s.lo = lo; s.hi = hi; s.log = log;
    return s;
  }
  /* short tick labels: powers of ten on a log axis as 1e-4 ... 1e40 */
  function tickLabel(v, log) {
    var e = Math.round(Math.log10(Math.abs(v)));
    if (log && Math.abs(e) >= 4 && Math.abs(v / Math.pow(10, e) - 1) < 1e-9) return "1e" + e;
    return fmt(v, 3);
  }
  function usable(v, log) { return fin(v) && (!log || v > 0); }
  function extent(values, log, pad) {
    var lo = Infinity, hi = -Infinity;
    values.forEach(function (v) { if (usable(v, log)) { if (v < lo) lo = v; if (v > hi) hi = v; } });
    if (lo > hi) return log ? [1, 10] : [0, 1];
    if (lo === hi) return log ? [lo / 2, hi * 2] : [lo - (Math.abs(lo) * 0.1 || 1), hi + (Math.abs(hi) * 0.1 || 1)];
    if (!pad) return [lo, hi];
    if (log) { var r = Math.pow(hi / lo, 0.04); return [lo / r, hi * r]; }
    var p = (hi - lo) * 0.04;
    return [lo - p, hi + p];
  }

  function hasData(panel) {
    return panel.series.some(function (s) { return s.y.some(fin); });
  }
  function categoriesOf(panel) {
    if (panel.categories) return panel.categories.map(String);
    var seen = [];
    panel.series.forEach(function (s) { s.x.forEach(function (x) { if (seen.indexOf(String(x)) < 0) seen.push(String(x)); }); });
    return seen;
  }

  /* ------------------------------------------------------------ one panel */
  /* Panel keys beyond relu_study.charts.Panel, used by the explorer page only:
     xlim [lo, hi] fixes the x range, vline draws a dashed vertical line. */
  function drawPanel(handle, panel, box) {
    var chart = handle.chart, kind = chart.kind, hidden = handle.hidden, W = handle.width, H = handle.height;
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": panel.title || chart.title }, box);
    var hits = [];
    var cats = kind === "lines" ? null : categoriesOf(panel);
    var catLines = 1, catWidest = 0, catLongest = 0;
    var common = cats && cats.length > 1 ? cats[0].split(", ").filter(function (p) {
      return cats.every(function (c) { return c.split(", ").indexOf(p) >= 0; });
    }) : [];
    if (cats) cats.forEach(function (c) {
      var parts = c.split(", ");
      var own = parts.filter(function (p) { return common.indexOf(p) < 0; }).join(", ");
      catLines = Math.max(catLines, parts.length);
      parts.forEach(function (p) { catWidest = Math.max(catWidest, p.length); });
      catLongest = Math.max(catLongest, (own || c).length);
    });
    /* category labels: stacked lines under each slot when they fit it; else one line turned
       upright (and every k-th only when even that is too tight), so no two labels overprint */
    var CHAR = 6.4, LINE = 12;
    var slotGuess = cats ? (W - 76) / Math.max(cats.length, 1) : 0;
    var upright = !!cats && catWidest * CHAR > slotGuess * 0.95;
    var m = { l: 62, r: 14, t: 30, b: upright ? 30 + Math.min(200, catLongest * 5.6) : 34 + 11 * Math.min(catLines, 4) };
    if (upright) {  /* the labels get their own room below the plot, which keeps its height */
      H += m.b - 45;
      svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    }
    var pw = W - m.l - m.r, ph = H - m.t - m.b;
    el("text", { x: m.l + pw / 2, y: 16, "text-anchor": "middle", "class": "rs-ptitle" }, svg).textContent = panel.title || "";
    if (panel.xlabel) el("text", { x: m.l + pw / 2, y: H - 4, "text-anchor": "middle", "class": "rs-label" }, svg).textContent = panel.xlabel;
    var ylabel = (panel.ylabel || "") + (panel.fitted ? " (axis fitted to the data)" : "");
    if (ylabel) el("text", { x: 0, y: 0, transform: "translate(13," + (m.t + ph / 2) + ") rotate(-90)", "text-anchor": "middle", "class": "rs-label" }, svg).textContent = ylabel;

    if (!hasData(panel)) {
      el("rect", { x: m.l, y: m.t, width: pw, height: ph, "class": "rs-axis" }, svg);
      var t = el("text", { x: m.l + pw / 2, y: m.t + ph / 2, "text-anchor": "middle", "class": "rs-empty" }, svg);
      t.textContent = panel.empty || "no data to show";
      return hits;
    }
    var shown = panel.series.filter(function (s) { return !hidden.has(s.name); });
    var pool = shown.length ? shown : panel.series;
    var logx = kind === "lines" && !!panel.logx, logy = !!panel.logy;

    var xs;
    if (kind === "lines") {
      var xv = [];
      pool.forEach(function (s) { s.x.forEach(function (x, i) { if (fin(s.y[i])) xv.push(x); }); });
      var xe = extent(xv, logx, false);
      if (panel.xlim) xe = panel.xlim;
      xs = scale(xe[0], xe[1], m.l, m.l + pw, logx);
    }
    var yv = [];
    pool.forEach(function (s) {
      yv.push.apply(yv, s.y);
      if (s.lo) yv.push.apply(yv, s.lo);
      if (s.hi) yv.push.apply(yv, s.hi);
    });
    if (fin(panel.hline)) yv.push(panel.hline);
    if (kind === "bars" && !logy) yv.push(0);
    var ye = panel.ylim ? panel.ylim : extent(yv, logy, true);
    var ys = scale(ye[0], ye[1], m.t + ph, m.t, logy);

    /* grid, ticks, frame */
    var g = el("g", { "class": "rs-tick" }, svg);
    ys.ticks(5).forEach(function (v) {
      var y = ys(v);
      if (y < m.t - 0.5 || y > m.t + ph + 0.5) return;
      el("line", { x1: m.l, x2: m.l + pw, y1: y, y2: y, "class": "rs-gridline" }, g);
      el("text", { x: m.l - 5, y: y + 4, "text-anchor": "end" }, g).textContent = tickLabel(v, logy);
    });
    var slot = 0;
    if (kind === "lines") {
      xs.ticks(6).forEach(function (v) {
        if (panel.integer_x && Math.abs(v - Math.round(v)) > 1e-9) return;  /* epochs, layers: whole numbers */
        var x = xs(v);
        if (x < m.l - 0.5 || x > m.l + pw + 0.5) return;
        el("line", { x1: x, x2: x, y1: m.t, y2: m.t + ph, "class": "rs-gridline" }, g);
        el("text", { x: x, y: m.t + ph + 15, "text-anchor": "middle" }, g).textContent = tickLabel(v, logx);
      });
    } else {
      slot = pw / Math.max(cats.length, 1);
      if (upright) {
        var every = Math.max(1, Math.ceil(LINE / slot));
        var room = Math.floor(200 / 5.6);
        /* a part every category shares (bias=0 throughout) says nothing under one slot: left out */
        var shared = cats.length > 1 ? cats[0].split(", ").filter(function (p) {
          return cats.every(function (c) { return c.split(", ").indexOf(p) >= 0; });
        }) : [];
        cats.forEach(function (full, i) {
          var c = full.split(", ").filter(function (p) { return shared.indexOf(p) < 0; }).join(", ") || full;
          if (i % every) return;
          var cx = m.l + slot * (i + 0.5), cy = m.t + ph + 8;
          var t = el("text", { x: cx, y: cy, "text-anchor": "end", "class": "rs-cat", "font-size": 10,
                               transform: "rotate(-90 " + cx + " " + cy + ")", dy: "0.35em" }, g);
          t.textContent = c.length > room ? c.slice(0, room - 1) + "…" : c;
          el("title", {}, t).textContent = full;
        });
      } else cats.forEach(function (c, i) {
        var t = el("text", { x: m.l + slot * (i + 0.5), y: m.t + ph + 14, "text-anchor": "middle" }, g);
        c.split(", ").slice(0, 4).forEach(function (part, j) {
          el("tspan", { x: m.l + slot * (i + 0.5), dy: j ? 11 : 0 }, t).textContent = part;
        });
      });
    }
    el("rect", { x: m.l, y: m.t, width: pw, height: ph, "class": "rs-axis" }, svg);
    if (fin(panel.hline) && usable(panel.hline, logy)) {
      var hy = ys(panel.hline);
      el("line", { x1: m.l, x2: m.l + pw, y1: hy, y2: hy, "class": "rs-zero" }, svg);
    }
    if (kind === "lines" && fin(panel.vline) && usable(panel.vline, logx)) {
      var vx = xs(panel.vline);
      el("line", { x1: vx, x2: vx, y1: m.t, y2: m.t + ph, "class": "rs-zero" }, svg);
    }
    var clipId = "rs-clip-" + handle.id + "-" + box.dataset.panel;
    el("rect", { x: m.l, y: m.t, width: pw, height: ph }, el("clipPath", { id: clipId }, el("defs", {}, svg)));
    var plot = el("g", { "clip-path": "url(#" + clipId + ")" }, svg);

    if (!shown.length) {
      el("text", { x: m.l + pw / 2, y: m.t + ph / 2, "text-anchor": "middle", "class": "rs-empty" }, svg)
        .textContent = "every series is hidden: click a legend entry to show it";
    }
    var k = panel.series.length;
    /* markers and error bars of points measured alone are not clipped by the frame: a point at the
       first or last epoch stays whole */
    var loose = el("g", { "class": "rs-points" }, svg);
    function inside(px, py) { return px >= m.l - 6 && px <= m.l + pw + 6 && py >= m.t - 6 && py <= m.t + ph + 6; }
    function errorBar(px, s, i, color, parent) {
      if (!(s.lo && s.hi && usable(s.lo[i], logy) && usable(s.hi[i], logy))) return;
      var y0 = ys(s.lo[i]), y1 = ys(s.hi[i]), cap = 4;
      el("path", { d: "M" + px + "," + y0 + "V" + y1 + "M" + (px - cap) + "," + y0 + "H" + (px + cap) + "M" + (px - cap) + "," + y1 + "H" + (px + cap),
        "class": "rs-err", "data-series": s.name, style: "stroke:" + color }, parent);
    }
    panel.series.forEach(function (s, si) {
      if (hidden.has(s.name)) return;
      var color = colorOf(s), dash = dashOf(s), name = s.name;
      if (kind === "lines" && s.marks) {  /* measured at a few epochs: a marker and its interval each, no line */
        s.x.forEach(function (x, i) {
          if (!(usable(x, logx) && usable(s.y[i], logy))) return;
          var px = xs(x), py = ys(s.y[i]);
          if (!inside(px, py)) return;
          errorBar(px, s, i, color, loose);
          el("circle", { cx: px, cy: py, r: 4.5, "class": "rs-mark rs-probe", "data-series": name, style: "fill:" + color }, loose);
          hits.push({ px: px, py: py, s: s, i: i });
        });
        return;
      }
      if (kind === "lines") {
        var segs = [], cur = [], band = [], curb = [];
        s.x.forEach(function (x, i) {
          if (usable(x, logx) && usable(s.y[i], logy)) {
            var p = [xs(x), ys(s.y[i]), i];
            cur.push(p);
            hits.push({ px: p[0], py: p[1], s: s, i: i });
          } else if (cur.length) { segs.push(cur); cur = []; }
          if (s.lo && s.hi && usable(x, logx) && usable(s.lo[i], logy) && usable(s.hi[i], logy)) {
            curb.push([xs(x), ys(s.lo[i]), ys(s.hi[i])]);
          } else if (curb.length) { band.push(curb); curb = []; }
        });
        if (cur.length) segs.push(cur);
        if (curb.length) band.push(curb);
        band.forEach(function (b) {
          if (b.length < 2) return;
          var d = "M" + b.map(function (p) { return p[0] + "," + p[2]; }).join("L") +
            "L" + b.slice().reverse().map(function (p) { return p[0] + "," + p[1]; }).join("L") + "Z";
          el("path", { d: d, "class": "rs-band", "data-series": name, style: "fill:" + color }, plot);
        });
        var d = segs.map(function (seg) {
          return "M" + seg.map(function (p) { return p[0].toFixed(2) + "," + p[1].toFixed(2); }).join("L");
        }).join("");
        if (d) el("path", { d: d, "class": "rs-line", "data-series": name, style: "stroke:" + color, "stroke-dasharray": dash || null }, plot);
        var count = segs.reduce(function (a, seg) { return a + seg.length; }, 0);
        segs.forEach(function (seg) {
          if (count > 60 && seg.length > 1) return;  /* markers only where lines cannot show points */
          seg.forEach(function (p) {
            var alone = seg.length === 1;  /* a point alone has no band: its interval is an error bar */
            if (alone && !inside(p[0], p[1])) return;
            if (alone) errorBar(p[0], s, p[2], color, loose);
            el("circle", { cx: p[0], cy: p[1], r: 3, "class": "rs-mark", "data-series": name, style: "fill:" + color }, alone ? loose : plot);
          });
        });
      } else {
        var width = slot * 0.8 / Math.max(k, 1);
        var base = logy ? m.t + ph : ys(Math.max(ye[0], Math.min(0, ye[1])));
        s.x.forEach(function (x, i) {
          var c = cats.indexOf(String(x));
          if (c < 0 || !usable(s.y[i], logy)) return;
          var cx = m.l + slot * c + slot * 0.1 + width * (si + 0.5), cy = ys(s.y[i]);
          if (kind === "bars") {
            el("rect", { x: cx - width / 2 + 1, width: Math.max(width - 2, 1), y: Math.min(cy, base), height: Math.abs(base - cy),
              "class": "rs-bar", "data-series": name, style: "fill:" + color, opacity: 0.85 }, plot);
          }
          if (s.lo && s.hi && usable(s.lo[i], logy) && usable(s.hi[i], logy)) {
            var y0 = ys(s.lo[i]), y1 = ys(s.hi[i]), cap = Math.min(5, width / 3);
            el("path", { d: "M" + cx + "," + y0 + "V" + y1 + "M" + (cx - cap) + "," + y0 + "H" + (cx + cap) + "M" + (cx - cap) + "," + y1 + "H" + (cx + cap),
              "class": "rs-err", "data-series": name, style: "stroke:" + (kind === "bars" ? "var(--fg)" : color) }, plot);
          }
          if (kind === "points") el("circle", { cx: cx, cy: cy, r: 4.5, "class": "rs-mark", "data-series": name, style: "fill:" + color }, plot);
          hits.push({ px: cx, py: cy, s: s, i: i, cat: true });
        });
      }
    });
    var hot = el("circle", { r: 6, "class": "rs-hot", visibility: "hidden" }, svg);
    svg.addEventListener("mousemove", function (ev) { hover(ev, svg, hits, hot); });
    svg.addEventListener("mouseleave", function () { hot.setAttribute("visibility", "hidden"); tip().style.display = "none"; });
    return hits;
  }

  /* ------------------------------------------------------------ hover */
  var tipEl = null;
  function tip() {
    if (!tipEl) { tipEl = html("div", "rs-tip", document.body); tipEl.setAttribute("role", "status"); }
    return tipEl;
  }
  function hover(ev, svg, hits, hot) {
    if (!hits.length) return;
    var pt = svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    var p = pt.matrixTransform(svg.getScreenCTM().inverse());
    var best = null, bd = 24 * 24;
    hits.forEach(function (h) {
      var d = (h.px - p.x) * (h.px - p.x) + (h.py - p.y) * (h.py - p.y);
      if (d < bd) { bd = d; best = h; }
    });
    var t = tip();
    if (!best) { hot.setAttribute("visibility", "hidden"); t.style.display = "none"; return; }
    hot.setAttribute("cx", best.px); hot.setAttribute("cy", best.py); hot.setAttribute("visibility", "visible");
    var s = best.s, i = best.i, rows = [];
    rows.push("x = " + (best.cat ? String(s.x[i]) : fmt(s.x[i], 6)));
    rows.push("y = " + fmt(s.y[i], 6));
    if (s.lo && s.hi && fin(s.lo[i]) && fin(s.hi[i])) rows.push("interval [" + fmt(s.lo[i], 4) + ", " + fmt(s.hi[i], 4) + "]");
    if (s.n && s.n[i] !== null && s.n[i] !== undefined) rows.push("n = " + s.n[i]);
    t.textContent = "";
    html("strong", null, t, s.name);
    rows.forEach(function (r) { html("div", null, t, r); });
    t.style.display = "block";
    var x = ev.clientX + 14, y = ev.clientY + 14;
    if (x + t.offsetWidth > window.innerWidth - 4) x = ev.clientX - t.offsetWidth - 14;
    if (y + t.offsetHeight > window.innerHeight - 4) y = ev.clientY - t.offsetHeight - 14;
    t.style.left = x + "px"; t.style.top = y + "px";
  }

  /* ------------------------------------------------------------ legend and chart */
  function seriesNames(chart) {
    var out = [], first = {};
    chart.panels.forEach(function (p) { p.series.forEach(function (s) { if (!(s.name in first)) { first[s.name] = s; out.push(s); } }); });
    return out;
  }
  /* a short line in the series' colour and dash, as in the legend */
  RS.swatch = function (parent, name) {
    var s = seenColor.get(name) || { name: name, color: null, style: "solid" };
    var sw = el("svg", { viewBox: "0 0 24 10", width: 24, height: 10, "aria-hidden": "true", "class": "rs-swatch" }, parent);
    el("line", { x1: 1, x2: 23, y1: 5, y2: 5, style: "stroke:" + colorOf(s) + ";stroke-width:3", "stroke-dasharray": dashOf(s) || null }, sw);
    return sw;
  };
  function drawLegend(handle, parent) {
    var names = seriesNames(handle.chart);
    if (!names.length) return;
    var box = html("div", "rs-legend", parent);
    names.forEach(function (s) {
      var b = html("button", null, box);
      b.type = "button";
      b.dataset.series = s.name;
      b.setAttribute("aria-pressed", handle.hidden.has(s.name) ? "false" : "true");
      b.title = "show or hide " + s.name;
      var sw = el("svg", { viewBox: "0 0 24 10", "aria-hidden": "true" }, b);
      el("line", { x1: 1, x2: 23, y1: 5, y2: 5, style: "stroke:" + colorOf(s) + ";stroke-width:3", "stroke-dasharray": dashOf(s) || null }, sw);
      html("span", null, b, s.name);
      b.addEventListener("click", function () {
        var show = handle.hidden.has(s.name);
        if (show) handle.hidden.delete(s.name); else handle.hidden.add(s.name);
        handle.redraw();
        if (handle.onToggle) handle.onToggle(s.name, show);
      });
    });
  }

  var nextId = 0;
  RS.drawChart = function (host, chart, opts) {
    opts = opts || {};
    var handle = { id: host.dataset.chart || ("c" + nextId), chart: chart, host: host, hidden: new Set(opts.hidden || []),
                   hits: [], onToggle: opts.onToggle, width: opts.width || 460, height: opts.height || 300 };
    nextId += 1;
    /* draws handle.chart: a page may replace it (the explorer does) and redraw */
    handle.redraw = function () {
      var chart = handle.chart;
      host.textContent = "";
      host.classList.add("rs-figure");
      if (opts.title !== false && chart.title) html("div", "rs-chart-title", host, chart.title);
      if (opts.legend !== false) drawLegend(handle, host);
      var grid = html("div", "rs-panels", host);
      var cols = Math.max(1, Math.min(chart.columns || 1, chart.panels.length));
      /* a chart of one column takes the column's width: a wider drawing, not larger text */
      if (!opts.width) handle.width = cols === 1 ? 920 : 460;
      grid.style.gridTemplateColumns = "repeat(" + cols + ", minmax(0, 1fr))";
      grid.style.maxWidth = (cols * handle.width * 1.25) + "px";  /* text stays near its drawn size */
      handle.hits = [];
      chart.panels.forEach(function (panel, i) {
        var box = html("div", "rs-panel", grid);
        box.dataset.panel = String(i);
        handle.hits.push(drawPanel(handle, panel, box));
      });
      if (opts.caption !== false && chart.caption) html("figcaption", null, host, chart.caption);
    };
    handle.redraw();
    RS.charts.push(handle);
    return handle;
  };

  /* hide or show the series called name in every chart of the page */
  RS.setSeriesVisible = function (name, visible) {
    RS.charts.forEach(function (h) {
      if (!seriesNames(h.chart).some(function (s) { return s.name === name; })) return;
      if (visible) h.hidden.delete(name); else h.hidden.add(name);
      h.redraw();
    });
  };

  RS.pageData = function () {
    if (!RS.data) {
      var node = document.getElementById("rs-data");
      RS.data = node ? JSON.parse(node.textContent) : {};
    }
    return RS.data;
  };

  RS.renderAll = function (root) {
    var charts = RS.pageData().charts || {};
    (root || document).querySelectorAll("[data-chart]").forEach(function (host) {
      var chart = charts[host.dataset.chart];
      if (!chart) { console.error("relu_study: no chart data for " + host.dataset.chart); return; }
      RS.drawChart(host, chart, { caption: host.dataset.caption !== "off", legend: !(chart.meta && chart.meta.legend === false) });
    });
  };
})();

/* The activations of relu_study.engine.activations, in JavaScript, so the
   explorer page computes every curve itself, for any typed parameter value.

   Each entry mirrors the Python class operation for operation (same branches,
   same order of floating-point operations, same library functions where
   JavaScript has them), so the page's numbers equal the registry's to a few
   units in the last place; tests/browser/test_explorer_page.py checks this at
   thousands of points per activation against the registry itself.

   JavaScript has no erf (GELU's exact form needs it): RS.erf below is written
   for this page, accurate to a few units in the last place (see its comment). */
(function () {
  "use strict";
  var RS = window.RS = window.RS || {};

  /* erf(x), to near double precision (within 2 units in the last place of the
     exact value in tests against 120-bit arithmetic; scipy's is within 3):
       |x| < 1:    the Maclaurin series 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)),
                   summed from the smallest term up;
       |x| >= 1:   erf = 1 - erfc, erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
                   the continued fraction evaluated from its tail (erfc <= 0.16 here,
                   so its few-ulp error is far below one ulp of erf);
       |x| >= 6:   erf(x) = +-1 (erfc(6) < 2^-54).
     exp(-x^2) is taken as exp(-h*h) * exp(-(x-h)*(x+h)) with h = x rounded to
     26 bits, so h*h is exact and rounding x^2 costs no accuracy. */
  var TWO_OVER_SQRT_PI = 1.1283791670955126, ONE_OVER_SQRT_PI = 0.5641895835477563;
  function expMinusSquare(x) {
    var c = 134217729 * x, h = c - (c - x);
    return Math.exp(-h * h) * Math.exp(-(x - h) * (x + h));
  }
  function erfcFraction(x) {  /* x >= 1 */
    var t = x;  /* it converges more slowly near 1: more terms there (tested for <= 1 ulp) */
    for (var k = Math.ceil(40 + 220 / (x * x)); k >= 1; k--) t = x + (k / 2) / t;
    return ONE_OVER_SQRT_PI * expMinusSquare(x) / t;
  }
  function erf(x) {
    if (x !== x) return NaN;
    var a = Math.abs(x), r;
    if (a >= 6) r = 1;
    else if (a >= 1) r = 1 - erfcFraction(a);
    else {
      var a2 = a * a, terms = [a], t = a;
      for (var n = 1; n < 40; n++) {
        t *= -a2 / n;
        terms.push(t / (2 * n + 1));
        if (Math.abs(t) < 1e-18 * a) break;
      }
      var sum = 0;
      for (var i = terms.length - 1; i >= 0; i--) sum += terms[i];
      r = TWO_OVER_SQRT_PI * sum;
    }
    return x < 0 ? -r : r;
  }
  RS.erf = erf;

  function expit(x) { return 1 / (1 + Math.exp(-x)); }  /* scipy.special.expit */
  var LOGE2 = 0.6931471805599453;
  function logaddexp0(y) {  /* numpy.logaddexp(0, y), branch for branch */
    if (y === 0) return LOGE2;
    var tmp = 0 - y;
    if (tmp > 0) return 0 + Math.log1p(Math.exp(-tmp));
    return y + Math.log1p(Math.exp(tmp));
  }
  function leaky(z, a) { return z > 0 ? z : a * z; }
  function leakyD(z, a) { return z > 0 ? 1 : a; }
  function num(v) { return String(+(+v).toPrecision(4)); }
  function finite(name, v) { return typeof v === "number" && isFinite(v) ? "" : name + " must be a finite number, got " + v; }
  var SQRT1_2PI = Math.sqrt(2 * Math.PI);

  /* name -> {cls, params, f(z, p), df(z, p), formula(p) -> [f, f'], check(p) -> "" or the problem} */
  RS.activations = {
    relu: {
      cls: "ReLU", params: [],
      f: function (z) { return z > 0 || z !== z ? z : 0; },  /* np.maximum(z, 0): NaN stays NaN */
      df: function (z) { return z > 0 ? 1 : 0; },
      formula: function () { return ["f(z) = max(z, 0)", "f\u2032(z) = 1 if z > 0, else 0"]; }
    },
    leaky: {
      cls: "LeakyReLU", params: ["alpha"],
      f: function (z, p) { return leaky(z, p.alpha); },
      df: function (z, p) { return leakyD(z, p.alpha); },
      formula: function (p) {
        return ["f(z) = z if z > 0, else \u03b1\u00b7z   (\u03b1 = " + num(p.alpha) + ")",
                "f\u2032(z) = 1 if z > 0, else \u03b1 (the kink z = 0 takes the \u03b1 branch)"];
      },
      check: function (p) { return finite("alpha", p.alpha); }
    },
    prelu: {
      cls: "PReLU", params: ["alpha"],
      f: function (z, p) { return leaky(z, p.alpha); },
      df: function (z, p) { return leakyD(z, p.alpha); },
      formula: function (p) {
        return ["f(z) = z if z > 0, else \u03b1\u00b7z, \u03b1 learned per unit; shown at its initial value \u03b1 = " + num(p.alpha),
                "f\u2032(z) = 1 if z > 0, else \u03b1"];
      },
      check: function (p) { return finite("alpha", p.alpha); }
    },
    rrelu: {
      cls: "RReLU", params: ["lower", "upper"],
      f: function (z, p) { return leaky(z, 0.5 * (p.lower + p.upper)); },
      df: function (z, p) { return leakyD(z, 0.5 * (p.lower + p.upper)); },
      formula: function (p) {
        return ["training: f(z) = z if z > 0, else a\u00b7z with a ~ U(lower, upper) per element; shown: evaluation mode, a = (lower + upper)/2 = " + num(0.5 * (p.lower + p.upper)),
                "f\u2032(z) = 1 if z > 0, else a"];
      },
      check: function (p) {
        return finite("lower", p.lower) || finite("upper", p.upper) ||
          (p.lower > p.upper ? "rrelu needs lower <= upper, got lower=" + p.lower + " > upper=" + p.upper : "");
      }
    },
    elu: {
      cls: "ELU", params: ["alpha"],
      f: function (z, p) { return z > 0 ? z : p.alpha * Math.expm1(Math.min(z, 0)); },
      df: function (z, p) { return z > 0 ? 1 : p.alpha * Math.exp(Math.min(z, 0)); },
      formula: function (p) {
        return ["f(z) = z if z > 0, else \u03b1\u00b7(e^z \u2212 1)   (\u03b1 = " + num(p.alpha) + ")",
                "f\u2032(z) = 1 if z > 0, else \u03b1\u00b7e^z"];
      },
      check: function (p) { return finite("alpha", p.alpha); }
    },
    gelu: {
      cls: "GELU", params: [],
      f: function (z) { return 0.5 * z * (1 + erf(z / Math.SQRT2)); },
      df: function (z) { return 0.5 * (1 + erf(z / Math.SQRT2)) + z * (Math.exp(-0.5 * z * z) / SQRT1_2PI); },
      formula: function () { return ["f(z) = z\u00b7\u03a6(z) = \u00bd\u00b7z\u00b7(1 + erf(z/\u221a2))   (exact form, not the tanh approximation)",
                                     "f\u2032(z) = \u03a6(z) + z\u00b7\u03c6(z)"]; }
    },
    silu: {
      cls: "SiLU", params: [],
      f: function (z) { return z * expit(z); },
      df: function (z) { var s = expit(z); return s * (1 + z * (1 - s)); },
      formula: function () { return ["f(z) = z\u00b7\u03c3(z) = z / (1 + e^\u2212z)", "f\u2032(z) = \u03c3(z)\u00b7(1 + z\u00b7(1 \u2212 \u03c3(z)))"]; }
    },
    softplus: {
      cls: "Softplus", params: ["beta"],
      f: function (z, p) { return logaddexp0(p.beta * z) / p.beta; },
      df: function (z, p) { return expit(p.beta * z); },
      formula: function (p) {
        return ["f(z) = log(1 + e^(\u03b2z)) / \u03b2   (\u03b2 = " + num(p.beta) + ")", "f\u2032(z) = \u03c3(\u03b2z)"];
      },
      check: function (p) {
        return finite("beta", p.beta) || (p.beta <= 0 ? "softplus beta must be > 0, got " + p.beta : "");
      }
    },
    tanh: {
      cls: "Tanh", params: [],
      f: function (z) { return Math.tanh(z); },
      df: function (z) { var t = Math.tanh(z); return 1 - t * t; },
      formula: function () { return ["f(z) = tanh(z)", "f\u2032(z) = 1 \u2212 tanh(z)\u00b2"]; }
    },
    identity: {
      cls: "Identity", params: [],
      f: function (z) { return z; },
      df: function () { return 1; },
      formula: function () { return ["f(z) = z", "f\u2032(z) = 1"]; }
    }
  };

  /* "LeakyReLU(alpha=2)": the class name with rounded parameter values */
  RS.activationLabel = function (name, p) {
    var a = RS.activations[name];
    return a.cls + "(" + a.params.map(function (k) { return k + "=" + num(p[k]); }).join(", ") + ")";
  };

  /* f and f' of activation name with parameters p at the points xs */
  RS.evaluate = function (name, p, xs) {
    var a = RS.activations[name];
    if (!a) throw new Error("no JavaScript implementation of activation " + name);
    var f = new Array(xs.length), df = new Array(xs.length);
    for (var i = 0; i < xs.length; i++) { f[i] = a.f(xs[i], p); df[i] = a.df(xs[i], p); }
    return { f: f, df: df };
  };
})();

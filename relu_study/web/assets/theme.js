/* Light/dark theme for relu_study pages.
   Runs in <head>, before the body is drawn, so the page never flashes the
   wrong theme.  First visit: the system preference (prefers-color-scheme).
   A click on the theme button stores the choice in localStorage, which then
   wins on every later load (of any relu_study page opened from file://).
   While no choice is stored, a change of the system preference is followed. */
(function () {
  "use strict";
  var KEY = "relu_study.theme";
  var RS = window.RS = window.RS || {};
  var media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function stored() {
    try { var t = window.localStorage.getItem(KEY); return t === "light" || t === "dark" ? t : null; }
    catch (e) { return null; }  /* storage can be disabled; the system preference still applies */
  }
  function system() { return media && media.matches ? "dark" : "light"; }
  function label() {
    var b = document.getElementById("rs-theme");
    if (!b) return;
    var t = RS.theme();
    b.textContent = t === "dark" ? "\u263C light theme" : "\u263E dark theme";
    b.setAttribute("aria-label", "switch to the " + (t === "dark" ? "light" : "dark") + " theme");
    b.dataset.theme = t;
  }

  RS.theme = function () { return document.documentElement.dataset.theme; };
  RS.setTheme = function (t, remember) {
    document.documentElement.dataset.theme = t;
    if (remember) { try { window.localStorage.setItem(KEY, t); } catch (e) { /* not remembered */ } }
    label();
  };
  RS.toggleTheme = function () { RS.setTheme(RS.theme() === "dark" ? "light" : "dark", true); };

  document.documentElement.dataset.theme = stored() || system();
  if (media && media.addEventListener) {
    media.addEventListener("change", function () { if (!stored()) RS.setTheme(system(), false); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var b = document.getElementById("rs-theme");
    if (b) b.addEventListener("click", RS.toggleTheme);
    label();
  });
})();

/* The sweep report page: draw the charts, and let the arm buttons (and any
   legend entry) hide or show an arm in every chart at once. */
(function () {
  "use strict";
  var RS = window.RS;
  RS.renderAll();
  function setArm(name, visible) {
    RS.setSeriesVisible(name, visible);
    document.querySelectorAll("[data-arm]").forEach(function (b) {
      if (b.dataset.arm === name) b.setAttribute("aria-pressed", visible ? "true" : "false");
    });
  }
  RS.setArm = setArm;
  RS.charts.forEach(function (h) { h.onToggle = setArm; });
  document.querySelectorAll("[data-arm]").forEach(function (b) {
    b.insertBefore(RS.swatch(b, b.dataset.arm), b.firstChild);  /* the buttons are the curves' legend */
    b.addEventListener("click", function () { setArm(b.dataset.arm, b.getAttribute("aria-pressed") !== "true"); });
  });
  function all(visible) {
    document.querySelectorAll("[data-arm]").forEach(function (b) { setArm(b.dataset.arm, visible); });
  }
  var showAll = document.getElementById("rs-arms-all"), hideAll = document.getElementById("rs-arms-none");
  if (showAll) showAll.addEventListener("click", function () { all(true); });
  if (hideAll) hideAll.addEventListener("click", function () { all(false); });
})();

(function () {
  "use strict";
  var box = document.getElementById("filter");
  if (!box) return;
  var charts = document.querySelectorAll("figure.chart");
  var sections = document.querySelectorAll("section.pkg");
  var count = document.getElementById("count");
  var none = document.getElementById("nomatch");
  var total = charts.length;
  function apply() {
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    charts.forEach(function (c) {
      var name = c.getAttribute("data-name");
      var ok = words.every(function (w) { return name.indexOf(w) >= 0; });
      c.hidden = !ok;
      if (ok) shown++;
    });
    sections.forEach(function (s) {
      s.hidden = !s.querySelector("figure.chart:not([hidden])");
    });
    count.textContent = words.length ? shown + " of " + total + " charts" : total + (total === 1 ? " chart" : " charts");
    none.hidden = shown > 0;
  }
  box.addEventListener("input", apply);
  var q = new URLSearchParams(location.search).get("q");
  if (q) { box.value = q; }
  apply();
})();

/* The works-per-month chart of township and village pages (Chart.js, served by the app).
 * Data comes from a <script type="application/json"> block; labels are drawn on a canvas,
 * so no text from data is ever parsed as HTML. */
(function () {
  "use strict";
  var node = document.getElementById("vw-chart-data");
  var canvas = document.getElementById("vw-chart");
  if (!node || !canvas || !window.Chart) return;
  var data = JSON.parse(node.textContent);
  var chart = new window.Chart(canvas, {
    type: "bar",
    data: data,
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: {
        x: { stacked: true, ticks: { autoSkip: true, maxRotation: 0 } },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
      },
      plugins: { legend: { position: "bottom" } },
    },
  });
  window.vwChart = chart;
  window.addEventListener("beforeprint", function () {
    chart.resize();
  });
})();

// The trace page: places each span's bar (CSP allows no inline styles in the markup).
(function () {
  "use strict";
  document.querySelectorAll(".waterfall .bar").forEach(function (bar) {
    bar.style.left = bar.dataset.left + "%";
    bar.style.width = bar.dataset.width + "%";
  });
  document.querySelectorAll(".waterfall .label").forEach(function (label) {
    label.style.paddingLeft = (Number(label.dataset.level) * 1.2) + "rem";
  });
})();

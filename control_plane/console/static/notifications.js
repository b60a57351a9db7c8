// The notifications page: new run events from WatchRunEvents' server-sent events, prepended
// while "Follow live" is checked (it is when the page opens).
(function () {
  "use strict";
  var box = document.getElementById("follow");
  var body = document.querySelector("#run-events tbody");
  var source = null;
  if (!box || !body) { return; }
  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) { td.className = className; }
    row.appendChild(td);
    return td;
  }
  function link(row, text, href) {
    var td = document.createElement("td");
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    td.appendChild(a);
    row.appendChild(td);
  }
  function start() {
    source = new EventSource(box.dataset.events);
    source.addEventListener("open", function () { box.dataset.open = "1"; });
    source.addEventListener("runevent", function (e) {
      var ev = JSON.parse(e.data);
      var empty = body.querySelector("tr.empty");
      if (empty) { empty.remove(); }
      var row = document.createElement("tr");
      row.className = "live";
      cell(row, ev.time);
      cell(row, ev.kind, "kind " + ev.kind.toLowerCase());
      var job = encodeURIComponent(ev.job);
      link(row, ev.job, "/jobs/" + job);
      link(row, ev.run.slice(0, 16) + "\u2026", "/jobs/" + job + "/runs/" + encodeURIComponent(ev.run));
      cell(row, ev.state);
      cell(row, ev.message);
      body.insertBefore(row, body.firstChild);
      // Following again (after unchecking) goes on after this event.
      box.dataset.events = "/notifications/follow?after=" + ev.id;
    });
  }
  function stop() {
    if (source) { source.close(); source = null; }
    delete box.dataset.open;
  }
  box.addEventListener("change", function () { if (box.checked) { start(); } else { stop(); } });
  if (box.checked) { start(); }
})();

// A run's page: its logs and state, live from the server-sent events of TailJobRunLogs.
(function () {
  "use strict";
  var logs = document.getElementById("logs");
  var stateCell = document.getElementById("state");
  var duration = document.getElementById("duration");
  var started = document.getElementById("started");
  if (!logs) { return; }
  var source = new EventSource(logs.dataset.events);
  var ticker = null;
  function tick() {
    var at = Date.parse(started.dataset.started || "");
    if (!isNaN(at)) { duration.textContent = ((Date.now() - at) / 1000).toFixed(1) + " s"; }
  }
  source.addEventListener("log", function (e) {
    var entry = JSON.parse(e.data);
    var line = document.createElement("span");
    line.className = "line " + entry.stream;
    line.dataset.at = String(Date.now());  // arrival time (ms), for the latency test
    line.dataset.stored = String(Date.parse(entry.time));  // when the server stored it (ms)
    line.textContent = "[" + entry.stream + "] " + entry.message + "\n";
    var atBottom = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
    logs.appendChild(line);
    if (atBottom) { logs.scrollTop = logs.scrollHeight; }
  });
  source.addEventListener("state", function (e) {
    var state = JSON.parse(e.data).state;
    stateCell.textContent = state;
    stateCell.className = "state " + state;
    if (state === "RUNNING" && ticker === null) { ticker = setInterval(tick, 1000); }
  });
  function finish() {
    source.close();
    if (ticker !== null) { clearInterval(ticker); }
    var stop = document.getElementById("stop");
    if (stop) { stop.remove(); }
    logs.dataset.ended = "1";
  }
  source.addEventListener("end", function (e) {
    var state = JSON.parse(e.data).state;
    if (state) { stateCell.textContent = state; stateCell.className = "state " + state; }
    finish();
  });
  source.addEventListener("failure", function (e) {
    var line = document.createElement("span");
    line.className = "line stderr";
    line.textContent = "[console] " + JSON.parse(e.data).message + "\n";
    logs.appendChild(line);
    finish();
  });
})();

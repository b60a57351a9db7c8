// The audit page: "Follow live" prepends new records from FollowAuditEvents' server-sent events.
(function () {
  "use strict";
  var box = document.getElementById("follow");
  var body = document.querySelector("#events tbody");
  var source = null;
  if (!box || !body) { return; }
  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) { td.className = className; }
    row.appendChild(td);
    return td;
  }
  box.addEventListener("change", function () {
    if (!box.checked) {
      if (source) { source.close(); source = null; }
      delete box.dataset.open;
      return;
    }
    source = new EventSource(box.dataset.events);
    source.addEventListener("open", function () { box.dataset.open = "1"; });
    source.addEventListener("audit", function (e) {
      var ev = JSON.parse(e.data);
      var empty = body.querySelector("tr.empty");
      if (empty) { empty.remove(); }
      var row = document.createElement("tr");
      row.className = "live";
      cell(row, ev.time); cell(row, ev.principal); cell(row, ev.action); cell(row, ev.resource);
      cell(row, ev.outcome, "outcome " + ev.outcome).title = ev.status;
      var td = cell(row, "");
      if (ev.trace_id) {
        var a = document.createElement("a");
        a.className = "trace";
        a.href = "/audit/trace/" + encodeURIComponent(ev.trace_id) + "?at=" + encodeURIComponent(ev.time);
        a.textContent = "trace";
        td.appendChild(a);
      }
      body.insertBefore(row, body.firstChild);
    });
  });
})();

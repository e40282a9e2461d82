(function () {
  "use strict";
  // Sort a table by a column: numbers by value, cells with data-sort by it,
  // text otherwise. A run's detail row moves with its run row.
  function cellKey(td, num) {
    var v = td.getAttribute("data-sort");
    if (v === null) { v = td.textContent.trim(); }
    if (num || td.hasAttribute("data-sort")) { var n = parseFloat(v); return isNaN(n) ? -Infinity : n; }
    return v.toLowerCase();
  }
  function sortTable(table, col, th) {
    var body = table.tBodies[0];
    var num = th.getAttribute("data-type") === "num";
    var asc = !th.classList.contains("asc");
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.classList.remove("asc", "desc"); });
    th.classList.add(asc ? "asc" : "desc");
    var rows = Array.prototype.filter.call(body.rows, function (r) { return !r.classList.contains("detail"); });
    rows.sort(function (a, b) {
      var x = cellKey(a.cells[col], num), y = cellKey(b.cells[col], num);
      return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
    });
    rows.forEach(function (r) {
      body.appendChild(r);
      var id = r.getAttribute("data-run");
      if (id !== null) {
        var d = body.querySelector('tr[data-detail="' + id + '"]');
        if (d) { body.appendChild(d); }
      }
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.addEventListener("click", function () { sortTable(table, i, th); });
    });
  });
  // Filter runs by any text in the run row or its details.
  var input = document.getElementById("filter");
  var count = document.getElementById("count");
  function applyFilter() {
    var q = input.value.trim().toLowerCase();
    var shown = 0, total = 0;
    Array.prototype.forEach.call(document.querySelectorAll("#runs tr.run"), function (r) {
      var d = document.querySelector('#runs tr[data-detail="' + r.getAttribute("data-run") + '"]');
      var text = (r.textContent + " " + (d ? d.textContent : "")).toLowerCase();
      var ok = q === "" || text.indexOf(q) >= 0;
      r.hidden = !ok;
      if (d) { d.hidden = !ok; }
      total++;
      if (ok) { shown++; }
    });
    count.textContent = shown + " of " + total + " runs";
  }
  input.addEventListener("input", applyFilter);
  applyFilter();
  document.body.setAttribute("data-js", "ready");
  document.getElementById("jsstatus").textContent = "report-js-ready";
})();

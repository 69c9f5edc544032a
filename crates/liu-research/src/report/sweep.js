// Draws a sweep report from its data block: the top table, a heatmap per
// parameter pair and a sensitivity chart per parameter for the chosen view
// (a walk-forward sweep has one per window), and the walk-forward chart.
// Then tells what it drew in window.__liuReport, read back from the charts.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("liu-data").textContent);
  const axes = data.axes;
  const objective = data.objective.metric + (data.objective.minimize ? " (lower is better)" : "");
  const charts = liuCharts();

  function format(v) {
    if (v === null || v === undefined) return "–";
    if (Number.isInteger(v)) return String(v);
    return Math.abs(v) >= 1000 ? v.toFixed(2) : Number(v.toPrecision(6)).toString();
  }

  const compact = new Intl.NumberFormat("en", { notation: "compact", maximumSignificantDigits: 4 });

  function topTable(view) {
    const table = document.getElementById("top");
    table.textContent = "";
    const head = table.createTHead().insertRow();
    ["rank"].concat(axes.map((a) => a.name), [data.objective.metric], data.top_metrics.map((m) => m[1])).forEach((h) => {
      const th = document.createElement("th");
      th.textContent = h;
      head.appendChild(th);
    });
    const body = table.createTBody();
    view.top.forEach((e) => {
      const row = body.insertRow();
      const cells = [e.rank].concat(axes.map((a) => e.params[a.name]), [format(e.objective)], e.metrics.map(format));
      cells.forEach((v) => {
        const td = row.insertCell();
        td.textContent = v;
        if (!e.feasible) td.className = "infeasible";
      });
    });
  }

  function draw(view) {
    document.getElementById("view_counts").textContent =
      view.combinations + " combinations recorded, " + view.failed + " failed; the top " + view.top.length + " (greyed: misses a constraint)";
    topTable(view);
    view.pairs.forEach((p, i) => {
      const values = p.cells.map((c) => c[2]);
      const x = axes[p.x], y = axes[p.y];
      charts.draw("surface_" + i, document.getElementById("surface"), {
        title: { text: x.name + " × " + y.name, textStyle: { fontSize: 13 } },
        legend: { show: false },
        tooltip: { position: "top", formatter: (q) => x.name + " " + x.values[q.value[0]] + ", " + y.name + " " + y.values[q.value[1]] + ": " + format(q.value[2]) },
        grid: { top: 40, left: 70, right: 20, bottom: 80 },
        xAxis: { type: "category", name: x.name, data: x.values },
        yAxis: { type: "category", name: y.name, data: y.values },
        visualMap: {
          min: values.length ? Math.min(...values) : 0,
          max: values.length ? Math.max(...values) : 1,
          calculable: true, orient: "horizontal", left: "center", bottom: 0,
          inRange: { color: data.objective.minimize ? ["#1e8449", "#f7f7f7", "#c0392b"] : ["#c0392b", "#f7f7f7", "#1e8449"] },
        },
        series: [{ name: objective, type: "heatmap", data: p.cells, label: { show: x.values.length * y.values.length <= 150, fontSize: 9, formatter: (q) => compact.format(q.value[2]) } }],
      });
    });
    view.lines.forEach((l) => {
      const a = axes[l.axis];
      charts.draw("sensitivity_" + l.axis, document.getElementById("sensitivity"), {
        title: { text: a.name, textStyle: { fontSize: 13 } },
        legend: { top: 0, right: 10 },
        xAxis: { type: "category", name: a.name, data: a.values },
        yAxis: { type: "value", scale: true, name: objective },
        series: [
          { name: "best", type: "line", data: l.best, connectNulls: false },
          { name: "mean", type: "line", data: l.mean, lineStyle: { type: "dashed" }, connectNulls: false },
        ],
      });
    });
  }

  if (data.views.length > 1) {
    const select = document.createElement("select");
    select.id = "view";
    data.views.forEach((v, i) => select.add(new Option(v.label, String(i))));
    select.addEventListener("change", () => {
      draw(data.views[Number(select.value)]);
      report();
    });
    document.getElementById("view_choice").appendChild(select);
  }
  draw(data.views[0]);

  if (data.walk_forward) {
    const w = data.walk_forward.windows;
    charts.draw("walk_forward", null, {
      xAxis: { type: "category", name: "window", data: w.map((x) => String(x.window)) },
      yAxis: { type: "value", scale: true, name: objective },
      series: [
        { name: "in-sample", type: "bar", data: w.map((x) => x.in) },
        { name: "out-of-sample", type: "bar", data: w.map((x) => x.out) },
      ],
    });
  }

  charts.fit();

  // What is drawn, from the charts themselves.
  function report() {
    const select = document.getElementById("view");
    const view = select ? Number(select.value) : 0;
    window.__liuReport = {
      charts: charts.drawn(true),
      view: view,
      top_rows: document.querySelectorAll("#top tbody tr").length,
      top: data.views[view].top.map((e) => e.params),
    };
  }
  report();
  window.dispatchEvent(new Event("liu-report-ready"));
})();

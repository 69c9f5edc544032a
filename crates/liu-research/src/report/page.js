// Draws the report's charts from the data block, then tells what it drew
// in window.__liuReport (point counts read back from the charts).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("liu-data").textContent);
  const charts = liuCharts();
  const zoom = [{ type: "inside" }, { type: "slider" }];
  const timeAxis = { type: "time" };

  function lines(field) {
    return data.strategies.map((s) => ({ name: s.label, type: "line", showSymbol: false, data: s[field], sampling: "none" }));
  }

  // A linked batch's runs (a trade session and its replay) are drawn dashed.
  const equity = lines("equity").map((l, i) => Object.assign(l, { name: data.strategies[i].equity_label }));
  data.linked.forEach((l) => {
    equity.push({ name: l.label, type: "line", showSymbol: false, data: l.equity, sampling: "none", lineStyle: { type: "dashed" } });
  });
  if (data.buy_hold) {
    equity.push({ name: "buy and hold", type: "line", showSymbol: false, data: data.buy_hold, lineStyle: { type: "dashed" } });
  }
  charts.draw("equity", null, { xAxis: timeAxis, yAxis: { type: "value", scale: true }, dataZoom: zoom, series: equity });
  charts.draw("drawdown", null, {
    xAxis: timeAxis,
    yAxis: { type: "value", axisLabel: { formatter: "{value} %" } },
    dataZoom: zoom,
    series: lines("drawdown").map((s) => Object.assign(s, { areaStyle: { opacity: 0.25 } })),
  });
  charts.draw("rolling_sharpe", null, { xAxis: timeAxis, yAxis: { type: "value" }, dataZoom: zoom, series: lines("rolling_sharpe") });

  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  data.strategies.forEach((s, i) => {
    const years = [...new Set(s.monthly.map((m) => m[0]))].sort();
    const values = s.monthly.map((m) => [m[1] - 1, years.indexOf(m[0]), m[2]]);
    const extent = Math.max(1, ...s.monthly.map((m) => Math.abs(m[2])));
    charts.draw("monthly_" + i, document.getElementById("monthly"), {
      title: { text: s.label, textStyle: { fontSize: 13 } },
      legend: { show: false },
      tooltip: { position: "top", formatter: (p) => years[p.value[1]] + " " + months[p.value[0]] + ": " + p.value[2] + " %" },
      grid: { top: 40, left: 60, right: 20, bottom: 60 },
      xAxis: { type: "category", data: months },
      yAxis: { type: "category", data: years.map(String) },
      visualMap: { min: -extent, max: extent, calculable: true, orient: "horizontal", left: "center", bottom: 0, inRange: { color: ["#c0392b", "#f7f7f7", "#1e8449"] } },
      series: [{ name: s.label, type: "heatmap", data: values, label: { show: years.length <= 12, fontSize: 9 } }],
    });
    charts.draw("trade_returns_" + i, document.getElementById("trade_returns"), {
      title: { text: s.label + " (" + s.trades + " trades)", textStyle: { fontSize: 13 } },
      legend: { show: false },
      xAxis: { type: "category", data: s.trade_returns.map((b) => b[0].toFixed(1) + "…" + b[1].toFixed(1)) },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: s.label, type: "bar", data: s.trade_returns.map((b) => b[2]) }],
    });
  });

  const symbolsEl = document.getElementById("symbols");
  data.symbols.forEach((sym, i) => {
    const h = document.createElement("h2");
    h.textContent = sym.symbol;
    symbolsEl.appendChild(h);
    const series = [{ name: sym.symbol, type: "candlestick", data: sym.candles, encode: { x: 0, y: [1, 2, 3, 4] } }];
    sym.fills.forEach((f) => {
      series.push({ name: f.label + " buys", type: "scatter", symbol: "triangle", symbolSize: 9, itemStyle: { color: "#1e8449" }, data: f.buys });
      series.push({ name: f.label + " sells", type: "scatter", symbol: "triangle", symbolRotate: 180, symbolSize: 9, itemStyle: { color: "#c0392b" }, data: f.sells });
    });
    charts.draw("price_" + i, symbolsEl, { xAxis: timeAxis, yAxis: { type: "value", scale: true }, dataZoom: zoom, series: series });
  });

  charts.fit();

  // What was drawn, from the charts themselves.
  const report = { charts: charts.drawn(false), fills: 0 };
  for (const [id, c] of Object.entries(report.charts)) {
    if (id.startsWith("price_")) {
      report.fills += c.series.filter((s) => s.type === "scatter").reduce((n, s) => n + s.points, 0);
    }
  }
  window.__liuReport = report;
  window.dispatchEvent(new Event("liu-report-ready"));
})();

// Shared by the report pages: drawing ECharts charts with the pages'
// defaults, and reading back what they hold, for window.__liuReport.
function liuCharts() {
  "use strict";
  const charts = {};
  return {
    // Draws `option` over the defaults in chart `id`: the element with that
    // id, else a new one in `parent`. Drawing it again replaces its option.
    draw(id, parent, option) {
      let el = document.getElementById(id);
      if (!el) {
        el = document.createElement("div");
        el.id = id;
        el.className = "chart";
        parent.appendChild(el);
      }
      const c = charts[id] || echarts.init(el, null, { renderer: "canvas" });
      c.setOption(Object.assign({ animation: false, tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { top: 40, left: 70, right: 30 } }, option), true);
      charts[id] = c;
      return c;
    },
    // A chart sizes itself when it is made, before its row has all its charts.
    fit() {
      Object.values(charts).forEach((c) => c.resize());
    },
    // Per chart, each series' name, type and points (values that are not
    // null), and with `withData` its values.
    drawn(withData) {
      const out = {};
      for (const [id, c] of Object.entries(charts)) {
        out[id] = {
          series: c.getOption().series.map((s) => {
            const series = { name: s.name, type: s.type, points: s.data.filter((d) => d !== null && d !== undefined).length };
            if (withData) series.data = s.data;
            return series;
          }),
        };
      }
      return out;
    },
  };
}

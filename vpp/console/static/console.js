// parkvpp console: charts from JSON embedded in the page, the gate countdown, htmx glue.
// No inline scripts: the page's Content-Security-Policy allows scripts from the service only.
(function () {
  "use strict";

  var PALETTE = ["#1d4ed8", "#b45309", "#15803d", "#7c3aed", "#be123c", "#0f766e", "#a16207",
    "#4338ca", "#c2410c", "#0369a1"];
  var charts = [];

  function data(el) {
    var node = document.getElementById(el.dataset.source);
    return node ? JSON.parse(node.textContent) : null;
  }

  function base(labels, yName) {
    return {
      color: PALETTE,
      animation: false,
      grid: { left: 56, right: 16, top: 36, bottom: 56 },
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0 },
      xAxis: { type: "category", data: labels, axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", name: yName || "" },
      dataZoom: [{ type: "inside" }, { type: "slider", height: 16, bottom: 8 }]
    };
  }

  var builders = {
    envelope: function (d) {
      var o = base(d.labels, "MW");
      o.series = [
        { name: "up", type: "line", step: "end", symbol: "none", data: d.up,
          itemStyle: { color: "#15803d" }, areaStyle: { opacity: 0.35 } },
        { name: "down", type: "line", step: "end", symbol: "none", data: d.down,
          itemStyle: { color: "#b45309" }, areaStyle: { opacity: 0.35 } }
      ];
      return o;
    },
    price: function (d, el) {
      var names = JSON.parse(el.dataset.names || "{}");
      var o = base(d.labels, d.unit);
      o.yAxis.scale = true;
      o.series = [];
      if (d.p10 && d.p90) {
        o.series.push({ name: "p10", type: "line", stack: "band", data: d.p10, symbol: "none",
          lineStyle: { opacity: 0 }, tooltip: { show: false } });
        o.series.push({ name: names.band || "P10-P90", type: "line", stack: "band", symbol: "none",
          data: d.p90.map(function (v, i) { return v === null || d.p10[i] === null ? null : +(v - d.p10[i]).toFixed(2); }),
          lineStyle: { opacity: 0 }, itemStyle: { color: "rgba(29,78,216,0.35)" },
          areaStyle: { color: "rgba(29,78,216,0.18)" } });
        o.legend.data = [names.band || "P10-P90", names.p50 || "P50", names.realised || "realised"];
      }
      if (d.p50) o.series.push({ name: names.p50 || "P50", type: "line", data: d.p50, symbol: "none", lineStyle: { color: "#1d4ed8" }, itemStyle: { color: "#1d4ed8" } });
      if (d.realised) o.series.push({ name: names.realised || "realised", type: "line", data: d.realised, symbol: "none", lineStyle: { color: "#111827", width: 2 }, itemStyle: { color: "#111827" } });
      return o;
    },
    curves: function (d, el) {
      var slider = document.querySelector("[data-curve-slider='" + el.dataset.source + "']");
      var k = slider ? +slider.value : 0;
      var out = document.getElementById("curve-interval-label");
      if (out) out.textContent = d.labels[k] || "";
      var series = [];
      Object.keys(d.products).sort().forEach(function (product) {
        Object.keys(d.products[product]).sort().forEach(function (side) {
          var steps = d.products[product][side][k];
          if (!steps) return;
          series.push({ name: product + " " + side, type: "line", step: "end", data: steps, symbolSize: 5 });
        });
      });
      return {
        color: PALETTE, animation: false, legend: { type: "scroll", top: 0 },
        tooltip: { trigger: "item", formatter: function (p) { return p.seriesName + ": " + p.value[0] + " MW @ " + p.value[1]; } },
        grid: { left: 64, right: 16, top: 36, bottom: 40 },
        xAxis: { type: "value", name: "MW" }, yAxis: { type: "value", name: "price", scale: true },
        series: series
      };
    },
    bars: function (d) {
      var o = base(d.labels, "MW");
      o.series = Object.keys(d.series).sort().map(function (name) {
        return { name: name, type: "bar", stack: "a", data: d.series[name] };
      });
      return o;
    },
    lines: function (d) {
      var o = base(d.labels, d.unit || "");
      o.series = Object.keys(d.series).sort().map(function (name) {
        return { name: name, type: "line", data: d.series[name], symbol: "none", step: d.step ? "end" : false };
      });
      return o;
    },
    // enterprise earnings: money per month or day, one bar per series side by side, y in d.unit
    amounts: function (d) {
      var o = base(d.labels, d.unit || "");
      o.series = Object.keys(d.series).map(function (name) {
        return { name: name, type: "bar", data: d.series[name] };
      });
      return o;
    }
  };

  var loading = null;

  function withECharts(then) {
    // ECharts (1 MB) loads only on pages that have a chart
    if (typeof echarts !== "undefined") return then();
    if (!loading) {
      loading = [];
      var script = document.createElement("script");
      script.src = document.body.dataset.echarts;
      script.onload = function () { loading.forEach(function (f) { f(); }); };
      document.head.appendChild(script);
    }
    loading.push(then);
  }

  function draw(root) {
    if (!(root || document).querySelector("[data-chart]")) return;
    if (typeof echarts === "undefined") return withECharts(function () { draw(root); });
    (root || document).querySelectorAll("[data-chart]").forEach(function (el) {
      var build = builders[el.dataset.chart];
      var d = data(el);
      if (!build || !d) return;
      var chart = echarts.getInstanceByDom(el) || echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(build(d, el), true);
      if (charts.indexOf(chart) < 0) charts.push(chart);
    });
  }

  function countdowns() {
    document.querySelectorAll(".countdown[data-seconds]").forEach(function (el) {
      var end = Date.now() + (+el.dataset.seconds) * 1000;
      function tick() {
        var left = Math.round((end - Date.now()) / 1000);
        if (left <= 0) { el.textContent = el.dataset.closed; el.classList.add("closed"); return; }
        var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
        el.textContent = (h ? h + " h " : "") + (m < 10 && h ? "0" : "") + m + " min " + (s < 10 ? "0" : "") + s + " s";
        if (left < 900) el.classList.add("soon");
        setTimeout(tick, 1000);
      }
      tick();
    });
  }

  function sliders() {
    document.querySelectorAll("[data-curve-slider]").forEach(function (slider) {
      slider.addEventListener("input", function () {
        draw(document.querySelector("[data-chart='curves'][data-source='" + slider.dataset.curveSlider + "']").parentNode);
      });
    });
  }

  function uploads() {
    // a progress bar for forms that upload a file through htmx (hx-encoding=multipart/form-data)
    document.body.addEventListener("htmx:xhr:progress", function (evt) {
      var bar = evt.target.querySelector("progress");
      if (bar && evt.detail.lengthComputable) {
        bar.hidden = false;
        bar.value = Math.round(100 * evt.detail.loaded / evt.detail.total);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    draw(document);
    countdowns();
    sliders();
    uploads();
    document.body.addEventListener("htmx:afterSettle", function (evt) { draw(evt.target); });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  });
})();

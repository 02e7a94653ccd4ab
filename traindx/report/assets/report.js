/* traindx HTML report: draws the charts (uPlot) and per-layer heatmaps (canvas) from the JSON
   embedded in the page; copy buttons for fix snippets. No network: everything is inline. */
(function () {
  "use strict";
  var t0 = performance.now();
  var DATA = JSON.parse(document.getElementById("traindx-data").textContent);
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf"];
  var MARK_COLOR = { error: "#d62728", warning: "#e69500", info: "#1f77b4", best: "#2ca02c" };
  var plots = [];
  var state = { charts: 0, heatmaps: 0 };

  function fmt(v) {
    if (v === null || v === undefined) return "-";
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2).replace(/\.?0+e/, "e");  // 1e-4, 2.5e-5
    return String(+v.toPrecision(4));
  }

  // an axis' tick labels: a tick its filter left out (null) stays unlabelled
  function ticks(u, vals) { return vals.map(function (v) { return v === null ? null : fmt(v); }); }

  function marksPlugin(marks) {
    return {
      hooks: {
        draw: function (u) {
          var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height, px = window.devicePixelRatio || 1;
          ctx.save();
          ctx.font = (11 * px) + "px sans-serif";
          marks.forEach(function (m, i) {
            if (u.scales.x.min === undefined || m.x < u.scales.x.min || m.x > u.scales.x.max) return;
            var x = Math.round(u.valToPos(m.x, "x", true));
            ctx.strokeStyle = ctx.fillStyle = MARK_COLOR[m.kind] || "#555";
            ctx.setLineDash(m.kind === "best" ? [2 * px, 3 * px] : [5 * px, 3 * px]);
            ctx.lineWidth = 1.5 * px;
            ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + h); ctx.stroke();
            ctx.setLineDash([]);
            var w = ctx.measureText(m.label).width, lx = x + 3 * px;
            if (lx + w > u.bbox.left + u.bbox.width) lx = x - 3 * px - w;
            ctx.fillText(m.label, lx, top + (12 + 12 * (i % 4)) * px);
          });
          ctx.restore();
        }
      }
    };
  }

  // a log axis over many decades: label every k-th power of ten so that labels do not collide
  // (a label takes 22 px of a vertical axis, 56 px of the horizontal one)
  function thinLog(u, splits, axisIdx) {
    var decades = splits.filter(function (v) { return Math.abs(Math.log10(v) % 1) < 1e-9; });
    var room = axisIdx === 0 ? u.bbox.width / 56 : u.bbox.height / 22;
    var k = Math.max(1, Math.ceil(decades.length / Math.max(2, Math.floor(room / (window.devicePixelRatio || 1)))));
    return splits.map(function (v) {
      var l = Math.log10(v);
      return Math.abs(l % 1) < 1e-9 && Math.round(l) % k === 0 ? v : null;
    });
  }

  function drawChart(el, c) {
    var xs = c.x, data = [xs], series = [{ label: c.x_label }];
    var maxY = null;
    c.y.forEach(function (col, i) {
      if (c.series[i].markers_only) return;
      col.forEach(function (v) { if (v !== null && (maxY === null || v > maxY)) maxY = v; });
    });
    if (maxY === null) maxY = 1;
    c.series.forEach(function (s, i) {
      var col = c.y[i], color = s.markers_only ? "#d62728" : PALETTE[i % PALETTE.length];
      if (s.markers_only) {  // non-finite points: markers at the top of the chart
        col = xs.map(function (x, j) { return c.y[i][j] === null && isMarked(c, i, j) ? maxY : null; });
        series.push({ label: s.label, stroke: color, fill: color, paths: function () { return null; },
                      points: { show: true, size: 8, fill: color, stroke: color }, value: function (u, v) { return v === null ? "-" : "NaN/inf"; } });
      } else if (s.points) {  // a scatter (traindx sweep: final metric against a hyperparameter)
        series.push({ label: s.label, stroke: color, fill: color, paths: function () { return null; },
                      points: { show: true, size: 7, fill: color, stroke: color }, value: function (u, v) { return fmt(v); } });
      } else {
        series.push({ label: s.label, stroke: color, width: 1.5, spanGaps: true, points: { show: false },
                      value: function (u, v) { return fmt(v); } });
      }
      data.push(col);
    });
    var width = Math.max(300, el.clientWidth || 800);
    var opts = {
      width: width, height: 260, series: series, plugins: [marksPlugin(c.marks)],
      scales: { x: { time: false, distr: c.log_x ? 3 : 1 }, y: { distr: c.log_y ? 3 : 1 } },
      axes: [{ label: c.x_label, values: ticks, filter: c.log_x ? thinLog : undefined },
             { label: c.y_label || "", values: ticks, filter: c.log_y ? thinLog : undefined }],
      legend: { live: true }, cursor: { drag: { x: true, y: false } }
    };
    var u = new uPlot(opts, data, el);
    u.root.setAttribute("data-points", String(xs.length));
    plots.push({ u: u, el: el });
    state.charts += 1;
  }

  // a markers-only series holds null everywhere; its x values are where the points are
  function isMarked(c, i, j) { return c.marked[i] && c.marked[i][c.x[j]] === true; }

  function colorOf(t) {  // viridis-like ramp, t in [0, 1]
    var stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
    t = Math.min(1, Math.max(0, t)) * (stops.length - 1);
    var i = Math.min(stops.length - 2, Math.floor(t)), f = t - i, a = stops[i], b = stops[i + 1];
    return "rgb(" + [0, 1, 2].map(function (k) { return Math.round(a[k] + (b[k] - a[k]) * f); }).join(",") + ")";
  }

  function drawHeatmap(box, hm) {
    var canvas = box.querySelector("canvas"), tip = box.querySelector(".tip"), scaleEl = box.querySelector(".scale");
    var rows = hm.z.length, cols = hm.x0.length, rowH = 16, labelW = 0;
    var log = hm.scale === "log", lo = Infinity, hi = -Infinity;
    hm.z.forEach(function (r) { r.forEach(function (v) {
      if (typeof v !== "number" || (log && v <= 0)) return;
      var t = log ? Math.log10(v) : v; if (t < lo) lo = t; if (t > hi) hi = t;
    }); });
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (!log) { lo = Math.min(lo, 0); hi = Math.max(hi, 1); }
    if (hi === lo) hi = lo + 1;
    var ctx0 = canvas.getContext("2d");
    ctx0.font = "11px sans-serif";
    hm.layers.forEach(function (l) { labelW = Math.max(labelW, ctx0.measureText(l).width); });
    labelW = Math.min(Math.ceil(labelW) + 8, 220);
    var width = Math.max(300, box.clientWidth || 800), px = window.devicePixelRatio || 1;
    var cellW = (width - labelW) / cols, height = rows * rowH + 18;
    canvas.width = width * px; canvas.height = height * px;
    canvas.style.width = width + "px"; canvas.style.height = height + "px";
    var ctx = canvas.getContext("2d");
    ctx.scale(px, px);
    ctx.font = "11px sans-serif"; ctx.textBaseline = "middle";
    hm.z.forEach(function (r, i) {
      ctx.fillStyle = "#333";
      ctx.fillText(hm.layers[i].length > 34 ? "\u2026" + hm.layers[i].slice(-33) : hm.layers[i], 2, i * rowH + rowH / 2);
      r.forEach(function (v, j) {
        if (v === null) return;  // nothing recorded in this bucket: left blank
        if (v === "nan") ctx.fillStyle = "#ff00ff";
        else if (log && v <= 0) ctx.fillStyle = "#000";
        else ctx.fillStyle = colorOf(((log ? Math.log10(v) : v) - lo) / (hi - lo));
        ctx.fillRect(labelW + j * cellW, i * rowH, Math.ceil(cellW), rowH - 1);
      });
    });
    ctx.fillStyle = "#333"; ctx.textBaseline = "top";
    ctx.fillText(hm.x0[0], labelW, rows * rowH + 3);
    var last = String(hm.x1); ctx.fillText(last, width - ctx.measureText(last).width - 2, rows * rowH + 3);
    scaleEl.textContent = (log ? "log10 scale: " + fmt(Math.pow(10, lo)) + " (dark) to " + fmt(Math.pow(10, hi)) + " (bright)"
                               : "linear scale: " + fmt(lo) + " (dark) to " + fmt(hi) + " (bright)") +
                          (log ? "; black: exactly 0" : "") + "; magenta: NaN/inf; blank: not recorded";
    canvas.onmousemove = function (e) {
      var r = canvas.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top;
      var i = Math.floor(y / rowH), j = Math.floor((x - labelW) / cellW);
      if (i < 0 || i >= rows || j < 0 || j >= cols) { tip.style.display = "none"; return; }
      var v = hm.z[i][j], to = j + 1 < cols ? hm.x0[j + 1] - 1 : hm.x1;
      tip.textContent = hm.layers[i] + "  steps " + hm.x0[j] + "-" + to + ": " + (v === "nan" ? "NaN/inf" : fmt(v));
      tip.style.display = "block"; tip.style.left = (x + 12) + "px"; tip.style.top = (y + 12) + "px";
    };
    canvas.onmouseleave = function () { tip.style.display = "none"; };
    box.setAttribute("data-rendered", "1");
    state.heatmaps += 1;
  }

  function renderRun(section) {
    if (section.getAttribute("data-drawn")) return;
    section.setAttribute("data-drawn", "1");
    var run = DATA.runs[+section.getAttribute("data-run")];
    section.querySelectorAll("[data-chart]").forEach(function (el) { drawChart(el, run.charts[+el.getAttribute("data-chart")]); });
    section.querySelectorAll("[data-heatmap]").forEach(function (el) { drawHeatmap(el, run.heatmaps[+el.getAttribute("data-heatmap")]); });
  }

  function prepare(c) {  // where each markers-only series has points: x -> true
    c.marked = c.series.map(function (s, i) {
      if (!s.markers_only) return null;
      var m = {}; c.xm[i].forEach(function (x) { m[x] = true; }); return m;
    });
  }
  DATA.runs.forEach(function (r) { r.charts.forEach(prepare); });

  var sections = Array.prototype.slice.call(document.querySelectorAll("section.run[data-run]"));
  var total = DATA.runs.reduce(function (n, r) { return n + r.charts.length + r.heatmaps.length; }, 0);
  if (total <= DATA.eager_limit || !("IntersectionObserver" in window)) {
    sections.forEach(renderRun);
  } else {  // many runs: draw a run's plots when it scrolls into view
    var io = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) { if (e.isIntersecting) { renderRun(e.target); io.unobserve(e.target); } });
    }, { rootMargin: "400px" });
    sections.forEach(function (s) { io.observe(s); });
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      plots.forEach(function (p) { p.u.setSize({ width: Math.max(300, p.el.clientWidth), height: 260 }); });
    }, 150);
  });

  document.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("button.copy") : null;
    if (!b) return;
    var text = b.parentNode.querySelector("code").textContent;
    var done = function () { b.textContent = "copied"; setTimeout(function () { b.textContent = "copy"; }, 1200); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { legacyCopy(text); done(); });
    } else { legacyCopy(text); done(); }
  });
  function legacyCopy(text) {
    var ta = document.createElement("textarea");
    ta.value = text; ta.style.position = "fixed"; ta.style.opacity = "0";
    document.body.appendChild(ta); ta.select();
    try { document.execCommand("copy"); } catch (err) { /* nothing to copy to */ }
    document.body.removeChild(ta);
  }

  window.traindxReport = { charts: state.charts, heatmaps: state.heatmaps, ms: performance.now() - t0, state: state,
                           plots: plots };
  document.documentElement.setAttribute("data-rendered", String(state.charts + state.heatmaps));
})();

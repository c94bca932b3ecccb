// Charts of the smac dashboard. Lines, scatter plots and axes are uPlot's; uPlot has no Gantt
// chart nor parallel coordinates, so the Gantt bars are drawn in a uPlot draw hook (on uPlot's
// scales and axes) and the parallel coordinates on a plain canvas.
"use strict";
const SmacCharts = (() => {
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#d62728"];
  const charts = new Map();

  function width(el) { return Math.max(300, el.clientWidth || el.parentElement.clientWidth - 4); }

  function mount(el, opts, data) {
    const old = charts.get(el);
    if (old) old.destroy();
    el.innerHTML = "";
    const u = new uPlot(opts, data, el);
    charts.set(el, u);
    return u;
  }

  function catAxis(labels) {
    return {
      splits: () => labels.map((_, i) => i),
      values: (u, splits) => splits.map((v) => labels[v] ?? ""),
    };
  }

  // Step lines of several runs on one x grid, optionally a median with a shaded range.
  function lines(el, spec) {
    const series = [{ label: spec.xLabel }];
    const data = [spec.x];
    spec.series.forEach((s, i) => {
      series.push({ label: s.label, stroke: s.color || PALETTE[i % PALETTE.length], width: s.width || 1.5,
        dash: s.dash, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false }, spanGaps: false });
      data.push(s.values);
    });
    const bands = [];
    if (spec.band) {
      const hi = data.length, lo = data.length + 1;
      series.push({ label: "range (max)", stroke: "rgba(0,0,0,0.15)", paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } });
      series.push({ label: "range (min)", stroke: "rgba(0,0,0,0.15)", paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } });
      data.push(spec.band.hi, spec.band.lo);
      bands.push({ series: [hi, lo], fill: "rgba(0,0,0,0.08)" });
    }
    return mount(el, {
      width: width(el), height: spec.height || 300, series, bands,
      scales: { x: { time: false }, y: { distr: spec.logY ? 3 : 1 } },
      axes: [{ label: spec.xLabel }, { label: spec.yLabel, size: 70 }],
      legend: { live: true },
    }, data);
  }

  // Points: one or more y series over a shared, ascending x.
  function points(el, spec) {
    const series = [{ label: spec.xLabel }];
    const data = [spec.x];
    spec.series.forEach((s, i) => {
      series.push({ label: s.label, stroke: s.color || PALETTE[i % PALETTE.length], width: s.line ? 2 : 0,
        paths: s.line ? undefined : () => null, spanGaps: !!s.line,
        points: { show: true, size: s.size || 5, fill: s.color || PALETTE[i % PALETTE.length] } });
      data.push(s.values);
    });
    const xAxis = { label: spec.xLabel, ...(spec.labels && spec.labels.length ? catAxis(spec.labels) : {}) };
    const xScale = { time: false };
    if (spec.range) xScale.range = () => spec.range;
    if (spec.logX) xScale.distr = 3;
    return mount(el, {
      title: spec.title, width: spec.width || width(el), height: spec.height || 260, series,
      scales: { x: xScale, y: { distr: spec.logY ? 3 : 1 } },
      axes: [xAxis, { label: spec.yLabel, size: 70 }],
      cursor: { points: { show: false } },
      legend: { show: spec.legend !== false },
    }, data);
  }

  const STATUS_COLOR = { SUCCESS: "#2c7fb8", CRASHED: "#d62728", TIMEOUT: "#e6550d", MEMORYOUT: "#a63603", DONOTEXIST: "#7f7f7f",
    RUNNING: "#f2b701", LOST: "#6a3d9a" };
  const MARK_COLOR = { joined: "#2ca02c", left: "#d62728" };

  // Gantt: bars = [[row, start, end, status, trial], ...] (status RUNNING: a trial still going,
  // its end is "now"), names = row labels, marks = [[row, t, "joined" | "left"], ...] drawn as
  // ticks across the row.
  function gantt(el, spec) {
    const n = spec.names.length;
    const draw = (u) => {
      const ctx = u.ctx;
      const rowH = Math.abs(u.valToPos(0, "y", true) - u.valToPos(1, "y", true));
      const h = Math.max(2, rowH * 0.7);
      ctx.save();
      ctx.beginPath();
      ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
      ctx.clip();
      for (const [row, s, e, st] of spec.bars) {
        const x0 = u.valToPos(s, "x", true), x1 = u.valToPos(e, "x", true);
        const y = u.valToPos(row, "y", true);
        ctx.fillStyle = STATUS_COLOR[st] || "#555";
        ctx.fillRect(x0, y - h / 2, Math.max(1, x1 - x0 - 1), h);
      }
      for (const [row, t, kind] of spec.marks || []) {
        const x = u.valToPos(t, "x", true), y = u.valToPos(row, "y", true);
        ctx.fillStyle = MARK_COLOR[kind] || "#000";
        ctx.fillRect(x - 1.5, y - rowH * 0.45, 3, rowH * 0.9);
      }
      ctx.restore();
    };
    return mount(el, {
      width: width(el), height: Math.min(600, 80 + 28 * Math.max(n, 2)),
      series: [{ label: "seconds" }, { label: "worker", show: false }],
      scales: { x: { time: false, range: () => [0, Math.max(spec.span, 1e-3)] }, y: { range: () => [-0.6, n - 0.4] } },
      axes: [{ label: spec.xLabel || "seconds since the first trial started" },
        { ...catAxis(spec.names), size: Math.min(260, 30 + 7 * Math.max(...spec.names.map((s) => s.length), 4)) }],
      legend: { show: false },
      cursor: { y: false, points: { show: false } },
      hooks: { draw: [draw] },
    }, [[0, Math.max(spec.span, 1e-3)], [null, null]]);
  }

  // Parallel coordinates on a canvas: axes = [{name, scale, labels, range}], lines = [{cost, values}].
  function parcoords(canvas, spec) {
    const dpr = window.devicePixelRatio || 1;
    const W = canvas.clientWidth || 900, H = canvas.clientHeight || 360;
    canvas.width = W * dpr; canvas.height = H * dpr;
    const ctx = canvas.getContext("2d");
    ctx.scale(dpr, dpr);
    ctx.clearRect(0, 0, W, H);
    const axes = spec.columns;
    const k = axes.length + 1; // the last axis is the cost
    const left = 60, right = 60, top = 40, bottom = 50, inactiveY = H - 22;
    const xs = Array.from({ length: k }, (_, i) => left + (k === 1 ? 0 : i * (W - left - right) / (k - 1)));
    const y = (v) => top + (1 - v) * (H - top - bottom);
    const costs = spec.lines.map((l) => l.cost);
    const cmin = Math.min(...costs), cmax = Math.max(...costs);
    const cn = (c) => (cmax > cmin ? (c - cmin) / (cmax - cmin) : 0.5);
    const order = spec.lines.map((_, i) => i).sort((a, b) => costs[b] - costs[a]); // best drawn last
    ctx.lineWidth = 1;
    for (const i of order) {
      const l = spec.lines[i];
      const t = cn(l.cost);
      ctx.strokeStyle = `hsla(${220 - 220 * t}, 70%, 45%, ${0.25 + 0.5 * (1 - t)})`;
      ctx.beginPath();
      l.values.concat([1 - t]).forEach((v, j) => {
        const py = v === null ? inactiveY : y(v);
        if (j === 0) ctx.moveTo(xs[j], py); else ctx.lineTo(xs[j], py);
      });
      ctx.stroke();
    }
    ctx.fillStyle = "#222"; ctx.strokeStyle = "#444"; ctx.font = "12px system-ui"; ctx.textAlign = "center";
    const names = axes.map((a) => a.name).concat([`cost (${spec.objective || ""})`]);
    xs.forEach((x, j) => {
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, H - bottom); ctx.stroke();
      ctx.fillText(names[j], x, 14);
      if (j < k - 1) { ctx.fillStyle = "#777"; ctx.fillText("inactive", x, inactiveY + 14); ctx.fillStyle = "#222"; }
      const a = axes[j];
      let lo, hi;
      if (a) {
        if (a.scale === "categorical") {
          a.labels.forEach((lab, c) => ctx.fillText(lab, x + 24, y(a.labels.length > 1 ? c / (a.labels.length - 1) : 0.5) + 4));
          return;
        }
        [lo, hi] = a.range;
        if (a.scale === "log") { lo = 10 ** lo; hi = 10 ** hi; }
      } else { lo = cmax; hi = cmin; } // the cost axis: best at the top
      ctx.fillText(fmt(hi), x, top - 4);
      ctx.fillText(fmt(lo), x, H - bottom + 14);
    });
  }

  function fmt(v) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
    return String(+v.toPrecision(4));
  }

  return { lines, points, gantt, parcoords, fmt, PALETTE };
})();

// The smac dashboard page: navigation, the live connection (server-sent events) and the views.
// All data comes from the server's JSON API; tables are paged on the server.
"use strict";
(() => {
  const $ = (s) => document.querySelector(s);
  const TOKEN = new URLSearchParams(location.search).get("token");
  const VIEWS = ["runs", "convergence", "trials", "parameters", "importance", "workers", "cluster", "pareto", "budgets"];
  const st = { snapshot: null, view: "runs", run: null, trials: { offset: 0, limit: 50, sort: "trial", desc: false },
    facetsFor: null, selected: null, busy: false, dirty: false };

  function url(path, params) {
    const q = new URLSearchParams(params || {});
    if (TOKEN) q.set("token", TOKEN);
    const s = q.toString();
    return s ? `${path}?${s}` : path;
  }
  async function api(path, params) {
    const r = await fetch(url(path, params));
    const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
    if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
    return body;
  }
  const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const fmt = SmacCharts.fmt;
  function fmtCost(c) { return Array.isArray(c) ? `[${c.map(fmt).join(", ")}]` : (c === null ? "inf" : fmt(c)); }
  function fmtSecs(s) {
    if (s === null || s === undefined || !isFinite(s)) return "–";
    if (s < 60) return `${s.toFixed(1)} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
    return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  }
  const loadedRuns = () => (st.snapshot ? st.snapshot.runs.filter((r) => r.overview) : []);
  const current = () => loadedRuns().find((r) => r.id === st.run);

  // ---- live updates -------------------------------------------------------------------------
  function connect() {
    const es = new EventSource(url("api/events"));
    es.addEventListener("update", (e) => {
      st.snapshot = JSON.parse(e.data);
      $("#live").className = "live on";
      $("#live").textContent = `live · v${st.snapshot.version}`;
      onSnapshot();
    });
    es.onerror = () => { $("#live").className = "live off"; $("#live").textContent = "reconnecting"; };
  }

  function onSnapshot() {
    const runs = loadedRuns();
    if (st.run === null || !runs.some((r) => r.id === st.run)) st.run = runs.length ? runs[0].id : null;
    const sel = $("#run-select");
    const opts = runs.map((r) => `<option value="${r.id}">${esc(r.overview.name)} · seed ${r.overview.seed} · ${esc(r.path)}</option>`).join("");
    if (sel.dataset.opts !== opts) { sel.innerHTML = opts; sel.dataset.opts = opts; }
    if (st.run !== null) sel.value = String(st.run);
    renderRuns();
    refresh();
  }

  // Re-fetches the current view; changes arriving meanwhile trigger one more fetch after it.
  async function refresh() {
    if (st.busy) { st.dirty = true; return; }
    st.busy = true;
    try {
      do {
        st.dirty = false;
        await VIEW_FN[st.view]();
      } while (st.dirty);
    } catch (e) {
      console.error(e);
    } finally { st.busy = false; }
  }

  // ---- runs overview -------------------------------------------------------------------------
  function renderRuns() {
    const s = st.snapshot;
    $("#notes").innerHTML = s.notes.map((n) => `<div>${esc(n)}</div>`).join("");
    $("#runs tbody").innerHTML = s.runs.map((r) => {
      const o = r.overview;
      const err = r.error ? `<tr data-run="${r.id}" class="run-error"><td colspan="10" class="err">${esc(r.path)}: ${esc(r.error)}</td></tr>` : "";
      if (!o) return err || `<tr data-run="${r.id}"><td colspan="10">${esc(r.path)}: loading</td></tr>`;
      const counts = Object.entries(o.status_counts).map(([k, n]) => `${n} ${k.toLowerCase()}`).join(", ");
      const state = o.ended === true ? "ended" : o.ended === false ? "running or stopped" : "unknown";
      return `<tr data-run="${r.id}">
        <td title="${esc(r.path)}">${esc(o.name)} (seed ${o.seed})</td><td>${esc(o.facade || "–")}</td>
        <td><span class="finished">${o.finished_trials}</span> / ${o.n_trials}</td><td class="running">${o.running}</td>
        <td>${esc(counts)}</td><td>${o.incumbents.join(", ") || "–"}</td>
        <td>${o.incumbent_costs.map(fmtCost).join(", ") || "–"}</td>
        <td>${fmtSecs(o.elapsed)}</td><td>${o.ended ? "done" : o.remaining === null ? "–" : "≈ " + fmtSecs(o.remaining)}</td><td>${state}</td></tr>${err}`;
    }).join("") || `<tr><td colspan="10">no run directory found yet</td></tr>`;
  }

  // ---- convergence ---------------------------------------------------------------------------
  async function renderConvergence() {
    const run = current();
    if (!run) return;
    const ids = loadedRuns().filter((r) => $("#conv-all").checked || r.overview.name === run.overview.name).map((r) => r.id);
    const c = await api("api/convergence", { runs: ids.join(",") });
    $("#conv-info").textContent = `${c.labels.length} run(s)`;
    const logY = $("#conv-log").checked;
    const draw = (el, part, xLabel) => {
      const series = c.labels.map((l, i) => ({ label: l, values: part.runs[i] }));
      const multi = c.labels.length > 1;
      if (multi) series.push({ label: "median", values: part.median, color: "#000", width: 2.5 });
      SmacCharts.lines(el, { x: part.x, series, band: multi ? { hi: part.hi, lo: part.lo } : null, xLabel,
        yLabel: `best ${c.objectives.join(" / ")}`, logY });
    };
    draw($("#conv-trials"), c.by_trial, "trials");
    draw($("#conv-time"), c.by_time, "seconds");
  }

  // ---- trials table --------------------------------------------------------------------------
  let columns = [];
  async function renderTrials() {
    const run = current();
    if (!run) return;
    if (st.facetsFor !== run.id) {
      const f = await api(`api/runs/${run.id}/facets`);
      columns = f.columns;
      const fill = (sel, vals) => { sel.innerHTML = `<option value="">all</option>` + vals.map((v) => `<option>${esc(v)}</option>`).join(""); };
      fill($("#f-budget"), f.budgets);
      fill($("#f-instance"), f.instances);
      st.facetsFor = run.id;
      st.objectives = f.objectives;
    }
    const t = st.trials;
    const params = { offset: t.offset, limit: t.limit, sort: t.sort, desc: t.desc ? "1" : "",
      status: $("#f-status").value, budget: $("#f-budget").value, instance: $("#f-instance").value, params: $("#f-params").value };
    let page;
    try {
      page = await api(`api/runs/${run.id}/trials`, params);
      $("#t-error").hidden = true;
    } catch (e) {
      $("#t-error").hidden = false;
      $("#t-error").textContent = e.message;
      return;
    }
    const head = [["trial", "trial"], ["config", "config"], ["status", "status"], ["cost", "cost"], ["budget", "budget"],
      ["instance", "instance"], ["seed", null], ["time", "time"], ["start", "start"], ["worker", "worker"]]
      .concat(columns.map((c) => [c.name, `param.${c.name}`]));
    $("#trials thead").innerHTML = "<tr>" + head.map(([label, key]) =>
      `<th data-sort="${key || ""}" class="${key === t.sort ? "sorted" + (t.desc ? " desc" : "") : ""}">${esc(label)}</th>`).join("") + "</tr>";
    $("#trials tbody").innerHTML = page.rows.map((r) => `<tr data-trial="${r.trial}" class="${r.trial === st.selected ? "selected" : ""}">
      <td>${r.trial}</td><td>${r.config_id}</td><td class="st-${r.status} status">${r.status}</td><td>${fmtCost(r.cost)}</td>
      <td>${r.budget ?? ""}</td><td>${esc(r.instance ?? "")}</td><td>${r.seed ?? ""}</td><td>${fmt(r.time)}</td>
      <td>${fmt(r.start)}</td><td>${esc(r.worker ?? "")}</td>
      ${r.values.map((v) => `<td>${v === null ? '<i class="inactive">inactive</i>' : esc(typeof v === "number" ? fmt(v) : v)}</td>`).join("")}</tr>`).join("");
    $("#t-count").textContent = `${page.total} of ${page.all} trials`;
    const pages = Math.max(1, Math.ceil(page.total / t.limit));
    $("#t-page").textContent = `page ${Math.floor(t.offset / t.limit) + 1} / ${pages}`;
    $("#t-prev").disabled = t.offset === 0;
    $("#t-next").disabled = t.offset + t.limit >= page.total;
  }

  async function showTrial(n) {
    const run = current();
    if (!run) return;
    st.selected = n;
    document.querySelectorAll("#trials tbody tr").forEach((tr) => tr.classList.toggle("selected", +tr.dataset.trial === n));
    const d = await api(`api/runs/${run.id}/trials/${n}`);
    const err = d.additional_info && d.additional_info.error;
    const costs = Array.isArray(d.cost) ? d.cost.map((c, i) => `${esc(d.objectives[i])}: ${fmtCost(c)}`).join("<br>") : fmtCost(d.cost);
    $("#trial-detail").innerHTML = `<h2>trial ${d.trial} · config ${d.config_id}</h2>
      ${err ? `<p class="err" id="trial-error">${esc(err)}</p>` : ""}
      <dl><dt>status</dt><dd>${d.status}</dd><dt>cost</dt><dd>${costs}</dd>
      <dt>budget</dt><dd>${d.budget ?? "–"}</dd><dt>instance</dt><dd>${esc(d.instance ?? "–")}</dd><dt>seed</dt><dd>${d.seed ?? "–"}</dd>
      <dt>wall time</dt><dd>${fmt(d.time)} s</dd><dt>cpu time</dt><dd>${fmt(d.cpu_time)} s</dd>
      <dt>started</dt><dd>${new Date(d.starttime * 1000).toISOString()}</dd><dt>ended</dt><dd>${new Date(d.endtime * 1000).toISOString()}</dd>
      <dt>worker</dt><dd>${esc(d.worker ?? "not recorded")}</dd><dt>origin</dt><dd>${esc(d.origin ?? "–")}</dd></dl>
      <h2>configuration</h2><pre>${esc(JSON.stringify(d.config, null, 2))}</pre>
      <h2>additional_info</h2><pre id="trial-info">${esc(JSON.stringify(d.additional_info, null, 2))}</pre>`;
  }

  // ---- parameters ----------------------------------------------------------------------------
  async function renderParameters() {
    const run = current();
    if (!run) return;
    const p = await api(`api/runs/${run.id}/parameters`);
    $("#par-info").textContent = `${p.successful} successful trials; ${p.lines.length} drawn as lines`;
    SmacCharts.parcoords($("#parcoords"), p);
    const box = $("#scatter-panels");
    box.innerHTML = p.panels.map((_, i) => `<div id="scatter-${i}"></div>`).join("");
    p.panels.forEach((panel, i) => {
      const el = $(`#scatter-${i}`);
      const cat = panel.scale === "categorical";
      SmacCharts.points(el, { x: panel.x.map((v) => (panel.scale === "log" ? 10 ** v : v)), width: 420, height: 240,
        title: `${panel.name}${panel.inactive ? ` (inactive in ${panel.inactive} trials, not shown)` : ""}`, legend: false,
        series: [{ label: panel.name, values: panel.y, size: 4 }],
        xLabel: panel.name, yLabel: p.objective, labels: cat ? panel.labels : null, logX: panel.scale === "log",
        range: cat ? [-0.5, panel.labels.length - 0.5] : null });
    });
  }

  // ---- parameter importance ------------------------------------------------------------------
  async function renderImportance() {
    const run = current();
    if (!run) return;
    const imp = await api(`api/runs/${run.id}/importance`);
    const pct = (v) => `${(100 * v).toFixed(1)} %`;
    // The whisker spans mean ± std, clipped to [0, 1].
    const lo = (p) => Math.max(0, p.mean - p.std);
    const hi = (p) => Math.min(1, p.mean + p.std);
    $("#imp-method").textContent = imp.method || "fANOVA (Hutter, Hoos & Leyton-Brown 2014), main effects";
    $("#imp-message").hidden = imp.available;
    $("#imp-message").textContent = imp.available ? "" : imp.reason;
    $("#imp-table").hidden = !imp.available;
    $("#imp-table tbody").innerHTML = imp.parameters.map((p) => `<tr data-param="${esc(p.name)}">
      <td>${esc(p.name)}${p.conditional ? " <span class='hint'>(conditional)</span>" : ""}</td>
      <td class="num">${pct(p.mean)} &plusmn; ${pct(p.std)}</td>
      <td class="imp-bar-cell"><div class="imp-track"><div class="imp-bar" style="width:${(100 * Math.max(0, Math.min(1, p.mean))).toFixed(2)}%"></div>
        <div class="imp-std" style="left:${(100 * lo(p)).toFixed(2)}%;width:${(100 * (hi(p) - lo(p))).toFixed(2)}%"></div></div></td></tr>`).join("");
    const t = imp.main_effects_total;
    $("#imp-total").textContent = imp.available && t
      ? `All main effects together: ${pct(t.mean)} ± ${pct(t.std)} of the variance; interactions explain the rest. ` +
        `${imp.n_trees_varying} of ${imp.n_trees} trees vary over the space.`
      : "";
  }

  // ---- workers -------------------------------------------------------------------------------
  async function renderWorkers() {
    const run = current();
    if (!run) return;
    const [w, c] = await Promise.all([api(`api/runs/${run.id}/workers`), api("api/cluster")]);
    let live = "";
    if (c.available) {
      // Trials running on the run's scheduler now, as growing bars on their worker's row.
      const v = c.view, t0 = w.t0 ?? v.started_at;
      const running = v.workers.filter((x) => x.running);
      for (const x of running) {
        let row = w.names.indexOf(x.name);
        if (row < 0) { row = w.names.length; w.names.push(x.name); }
        w.bars.push([row, x.running.started_at - t0, v.taken_at - t0, "RUNNING", null]);
      }
      w.span = Math.max(w.span, v.taken_at - t0);
      live = `; ${running.length} running now`;
      st.liveView = true;
    }
    $("#gantt-info").textContent = `${w.names.length} worker row(s); ${w.running} trial(s) running at the last save${live}` +
      (w.recorded ? "" : "; this run does not record workers (SMAC3 runs and our runs before the dashboard do not)");
    SmacCharts.gantt($("#gantt"), w);
    $("#gantt-workers tbody").innerHTML = w.workers.map((x) => `<tr data-worker="${esc(x.name)}"><td>${esc(x.name)}</td>
      <td>${x.trials}</td><td>${x.crashed}</td><td>${fmt(x.busy_seconds)}</td><td>${(100 * x.busy_fraction).toFixed(1)} %</td>
      <td>${fmt(x.first_start)}</td><td>${fmt(x.last_end)}</td></tr>`).join("");
  }

  // ---- cluster (the scheduler's workers now) --------------------------------------------------
  async function renderCluster() {
    const c = await api("api/cluster");
    if (!c.available) {
      $("#cluster-info").textContent = c.why;
      SmacCharts.gantt($("#cluster-gantt"), { names: [], bars: [], span: 1 });
      $("#cluster-workers tbody").innerHTML = "";
      $("#cluster-events tbody").innerHTML = "";
      return;
    }
    st.liveView = true;
    const v = c.view, t0 = v.started_at, now = v.taken_at - t0;
    const names = v.workers.map((x) => x.name);
    const row = (name) => { let i = names.indexOf(name); if (i < 0) { i = names.length; names.push(name); } return i; };
    const bars = v.finished.map((f) => [row(f.worker), f.started_at - t0, f.ended_at - t0, f.status, null]);
    for (const x of v.workers) if (x.running) bars.push([row(x.name), x.running.started_at - t0, now, "RUNNING", null]);
    const marks = v.events.map((e) => [row(e.worker), e.at - t0, e.kind]);
    SmacCharts.gantt($("#cluster-gantt"), { names, bars, marks, span: now, xLabel: "seconds since the scheduler started" });
    const running = v.workers.filter((x) => x.running).length;
    const left = v.events.filter((e) => e.kind === "left").length;
    $("#cluster-info").textContent = `${v.workers.length} worker(s) connected, ${running} running a trial, ` +
      `${v.queued} trial(s) queued, ${v.runners} optimization(s) attached; ${v.stats.workers_joined} joined and ` +
      `${v.stats.workers_lost} left since the start, ${v.stats.trials_completed} trials completed, ${v.stats.trials_retried} retried`;
    const res = (r) => Object.entries(r).map(([k, n]) => `${k}=${n}`).join(", ") || "–";
    $("#cluster-workers tbody").innerHTML = v.workers.map((x) => {
      const r = x.running;
      const cfg = r ? Object.entries(r.config).map(([k, val]) => `${k}=${typeof val === "number" ? fmt(val) : val}`).join(", ") : "";
      const busy = x.busy_seconds + (r ? v.taken_at - r.started_at : 0);
      return `<tr data-worker="${esc(x.name)}"><td>${esc(x.name)}</td><td>${x.thread ? "thread" : "process"}</td>
        <td>${r ? `running for ${fmtSecs(v.taken_at - r.started_at)}` : "idle"}</td><td>${esc(cfg)}${r && r.budget !== null ? ` · budget ${fmt(r.budget)}` : ""}</td>
        <td>${esc(r && r.gpus ? r.gpus : "–")}</td><td>${esc(res(x.resources))}</td><td>${fmtSecs(x.joined_at - t0)}</td>
        <td>${x.trials}</td><td>${fmt(busy)}</td><td>${(100 * Math.min(1, busy / Math.max(1e-9, v.taken_at - x.joined_at))).toFixed(1)} %</td></tr>`;
    }).join("");
    $("#cluster-events tbody").innerHTML = v.events.slice(-50).reverse().map((e) =>
      `<tr class="ev-${e.kind}"><td>${fmtSecs(e.at - t0)}</td><td>${esc(e.worker)}</td><td>${e.kind}</td><td>${esc(e.reason)}</td></tr>`).join("");
  }

  // ---- Pareto front and budgets --------------------------------------------------------------
  async function renderPareto() {
    const run = current();
    if (!run) return;
    const p = await api(`api/runs/${run.id}/pareto`);
    if (p.objectives.length < 2) {
      $("#pareto-info").textContent = "this run has a single objective";
      $("#pareto-chart").innerHTML = "";
      return;
    }
    $("#pareto-info").textContent = `${p.x.length} configurations, ${p.front_size} on the Pareto front` +
      (p.objectives.length > 2 ? ` (showing ${p.objectives[0]} and ${p.objectives[1]} of ${p.objectives.length} objectives)` : "");
    SmacCharts.points($("#pareto-chart"), { x: p.x, xLabel: p.objectives[0], yLabel: p.objectives[1], height: 420,
      series: [{ label: "configurations", values: p.all, color: "#9ab" }, { label: "Pareto front", values: p.front, color: "#d62728", line: true, size: 7 }] });
  }

  async function renderBudgets() {
    const run = current();
    if (!run) return;
    const b = await api(`api/runs/${run.id}/budgets`);
    if (!b.table.length) {
      $("#budget-chart").innerHTML = "<p class='hint'>this run has no budgets (not multi-fidelity)</p>";
      $("#budget-table tbody").innerHTML = "";
      return;
    }
    SmacCharts.points($("#budget-chart"), { x: b.x, xLabel: "budget", yLabel: b.objective, logX: true, height: 360,
      series: [{ label: "trials", values: b.y, color: "#9ab" }, { label: "median", values: b.median, color: "#000", line: true, size: 7 },
        { label: "best", values: b.best, color: "#2ca02c", line: true, size: 7 }] });
    $("#budget-table tbody").innerHTML = b.table.map((r) => `<tr><td>${r.budget}</td><td>${r.trials}</td><td>${fmt(r.median)}</td><td>${fmt(r.best)}</td></tr>`).join("");
    renderBrackets(b.brackets, b.objective);
  }

  function renderBrackets(h, objective) {
    $("#bracket-hint").hidden = !h;
    if (!h) {
      $("#bracket-title").textContent = "";
      $("#bracket-chart").innerHTML = "";
      $("#bracket-table tbody").innerHTML = "";
      return;
    }
    $("#bracket-title").textContent = `${h.intensifier} brackets (eta ${h.eta}, budgets ${fmt(h.min_budget)} to ${fmt(h.max_budget)})` +
      (h.unmatched_configs ? ` · ${h.unmatched_configs} configuration(s) fit no bracket` : "");
    // One series per bracket over the sorted union of the budgets.
    const pts = [];
    h.brackets.forEach((br, i) => br.budgets.forEach((x, j) => pts.push([x, i, br.costs[j]])));
    pts.sort((a, b) => a[0] - b[0]);
    const series = h.brackets.map((br, i) => ({ label: `bracket ${br.bracket}`, values: pts.map((p) => (p[1] === i ? p[2] : null)) }));
    if (pts.length) {
      SmacCharts.points($("#bracket-chart"), { x: pts.map((p) => p[0]), xLabel: "budget", yLabel: objective, logX: true, height: 320, series });
    } else {
      $("#bracket-chart").innerHTML = "<p class='hint'>no successful trial yet</p>";
    }
    $("#bracket-table tbody").innerHTML = h.brackets.flatMap((br) => br.stages.map((s, k) =>
      `<tr data-bracket="${br.bracket}"><td>${k === 0 ? br.bracket : ""}</td><td>${k + 1}</td><td>${fmt(s.budget)}</td>` +
      `<td>${s.planned}</td><td>${s.reached}</td><td>${s.best === null ? "–" : fmt(s.best)}</td></tr>`)).join("");
  }

  const VIEW_FN = { runs: async () => {}, convergence: renderConvergence, trials: renderTrials, parameters: renderParameters,
    importance: renderImportance,
    workers: renderWorkers, cluster: renderCluster, pareto: renderPareto, budgets: renderBudgets };

  // ---- navigation and controls ---------------------------------------------------------------
  function show() {
    const v = location.hash.slice(1);
    st.view = VIEWS.includes(v) ? v : "runs";
    st.liveView = false;
    VIEWS.forEach((name) => {
      $(`#view-${name}`).hidden = name !== st.view;
      $(`#nav-${name}`).classList.toggle("active", name === st.view);
    });
    if (st.snapshot) refresh();
  }
  window.addEventListener("hashchange", show);
  $("#run-select").addEventListener("change", (e) => { st.run = +e.target.value; st.trials.offset = 0; st.selected = null; refresh(); });
  $("#runs tbody").addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-run]");
    if (tr && loadedRuns().some((r) => r.id === +tr.dataset.run)) { st.run = +tr.dataset.run; $("#run-select").value = tr.dataset.run; location.hash = "#trials"; }
  });
  const refilter = () => { st.trials.offset = 0; refresh(); };
  ["#f-status", "#f-budget", "#f-instance"].forEach((s) => $(s).addEventListener("change", refilter));
  $("#f-params").addEventListener("keydown", (e) => { if (e.key === "Enter") refilter(); });
  $("#f-params").addEventListener("change", refilter);
  $("#t-prev").addEventListener("click", () => { st.trials.offset = Math.max(0, st.trials.offset - st.trials.limit); refresh(); });
  $("#t-next").addEventListener("click", () => { st.trials.offset += st.trials.limit; refresh(); });
  $("#trials thead").addEventListener("click", (e) => {
    const th = e.target.closest("th[data-sort]");
    if (!th || !th.dataset.sort) return;
    const t = st.trials;
    t.desc = t.sort === th.dataset.sort ? !t.desc : false;
    t.sort = th.dataset.sort;
    t.offset = 0;
    refresh();
  });
  $("#trials tbody").addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-trial]");
    if (tr) showTrial(+tr.dataset.trial).catch((err) => { $("#trial-detail").textContent = err.message; });
  });
  $("#conv-log").addEventListener("change", () => refresh());
  $("#conv-all").addEventListener("change", () => refresh());
  window.addEventListener("resize", () => refresh());
  // Running trials grow: views showing the cluster's state now are refreshed every second.
  setInterval(() => { if (st.liveView && (st.view === "workers" || st.view === "cluster")) refresh(); }, 1000);
  show();
  connect();
})();

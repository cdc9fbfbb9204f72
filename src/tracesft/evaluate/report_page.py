"""The page of ``tracesft report``: HTML, CSS and the script that draws it (SVG charts, the table).

No libraries, no network (the Content-Security-Policy allows inline styles and scripts only). The
script reads the JSON of ``<script id="report-data">`` and builds every node with ``textContent``
and ``createElementNS``: untrusted text (prompts, responses, answers) is never parsed as HTML.
``{{TITLE}}`` (HTML-escaped) and ``{{DATA}}`` (see ``report._json_for_script``) are filled in.
"""

CSS = r"""
:root { --fg:#1f2430; --muted:#6b7280; --line:#e5e7eb; --bg:#f6f7f9; --card:#fff; --ok:#15803d; --bad:#b91c1c;
        --warn:#b45309; --accent:#2563eb; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif; color:var(--fg);
       background:var(--bg); }
header { background:#111827; color:#f9fafb; padding:14px 24px; }
header h1 { margin:0; font-size:18px; font-weight:600; }
header .sub { color:#9ca3af; font-size:12px; margin-top:2px; }
main { padding:16px 24px 40px; max-width:1400px; margin:0 auto; }
h2 { font-size:15px; margin:22px 0 10px; text-transform:uppercase; letter-spacing:.04em; color:#374151; }
.grid { display:grid; grid-template-columns:repeat(auto-fill,minmax(380px,1fr)); gap:12px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
.card h3 { margin:0 0 4px; font-size:13px; font-weight:600; }
.empty { color:var(--muted); font-style:italic; }
svg.chart { width:100%; height:auto; display:block; }
svg.chart .axis { stroke:#9ca3af; stroke-width:1; }
svg.chart .gridline { stroke:#eef0f3; stroke-width:1; }
svg.chart text { font-size:10px; fill:#6b7280; }
svg.chart path.line { fill:none; stroke-width:1.8; }
.legend { display:flex; flex-wrap:wrap; gap:4px 12px; font-size:12px; color:#374151; }
.legend .sw { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:4px; vertical-align:-1px; }
.two { display:grid; grid-template-columns:minmax(320px,1fr) minmax(380px,1.4fr); gap:12px; align-items:start; }
@media (max-width: 900px) { .two { grid-template-columns:1fr; } }
table { border-collapse:collapse; width:100%; }
table.kv { table-layout:fixed; }
table.kv td { padding:3px 8px; border-bottom:1px solid var(--line); font-variant-numeric:tabular-nums;
              overflow-wrap:anywhere; }
table.kv td.k { color:#374151; width:58%; }
table.kv tr.group td { font-weight:600; padding-top:10px; color:#111827; border-bottom:2px solid var(--line); }
.bar { display:inline-block; height:8px; background:var(--accent); border-radius:2px; vertical-align:middle;
       margin-left:8px; opacity:.75; }
.bar.fail { background:var(--warn); }
.controls { display:flex; flex-wrap:wrap; gap:8px; align-items:center; margin-bottom:8px; }
.controls button { border:1px solid #cbd5e1; background:#fff; border-radius:16px; padding:4px 12px; cursor:pointer;
                   font:inherit; font-size:13px; }
.controls button.active { background:#1f2937; color:#fff; border-color:#1f2937; }
.controls input { border:1px solid #cbd5e1; border-radius:6px; padding:4px 8px; font:inherit; min-width:220px; }
.controls .count { color:var(--muted); margin-left:auto; }
table.gens { background:#fff; border:1px solid var(--line); border-radius:8px; table-layout:fixed; }
table.gens th { text-align:left; font-size:12px; color:#374151; background:#f3f4f6; padding:6px 8px;
                border-bottom:1px solid var(--line); }
table.gens td { vertical-align:top; padding:6px 8px; border-bottom:1px solid var(--line); overflow-wrap:anywhere; }
table.gens tr.gen.bad td:first-child { box-shadow:inset 3px 0 0 var(--bad); }
table.gens tr.gen.good td:first-child { box-shadow:inset 3px 0 0 var(--ok); }
pre.text { margin:0; white-space:pre-wrap; font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",
           monospace; max-height:18em; overflow:auto; background:#fafafa; border:1px solid #f0f0f0; border-radius:4px;
           padding:4px 6px; }
details.prompt summary { cursor:pointer; color:#374151; font-size:12px; }
.seg-think { color:#6b7280; }
.seg-answer { background:#fef3c7; color:#111827; font-weight:600; }
.tag { color:#7c3aed; font-weight:600; }
.tag.answer { color:#b45309; }
.badge { display:inline-block; padding:1px 7px; border-radius:10px; font-size:11px; font-weight:600;
         margin:1px 2px 1px 0; }
.badge.ok { background:#dcfce7; color:var(--ok); } .badge.bad { background:#fee2e2; color:var(--bad); }
.badge.cut { background:#ffedd5; color:#9a3412; } .badge.loop { background:#ede9fe; color:#5b21b6; }
.mono { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace; font-size:12px; }
.pager { display:flex; gap:8px; align-items:center; margin-top:8px; }
.pager button { border:1px solid #cbd5e1; background:#fff; border-radius:6px; padding:3px 10px; cursor:pointer; }
.notes { color:var(--muted); font-size:12px; margin-top:6px; }
h3.subhead { font-size:12px; margin:14px 0 4px; color:#374151; }
table.kv.sub th { text-align:left; font-size:12px; color:#6b7280; font-weight:600; padding:3px 8px; }
table.kv.sub { table-layout:auto; }
#count-histograms .card { margin-top:12px; }
details.more > summary { cursor:pointer; color:#374151; margin:10px 0; }
"""

JS = r"""
"use strict";
const DATA = JSON.parse(document.getElementById("report-data").textContent);
const SVGNS = "http://www.w3.org/2000/svg";
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4b5563"];

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return e;
}
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}
function fmt(v) {
  if (v === null || v === undefined) return "-";
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return Number(v.toPrecision(3)).toExponential();
  return String(Number(v.toPrecision(4)));
}
function niceTicks(lo, hi, n, integer) {
  if (!(hi > lo)) { const d = Math.abs(lo) || 1; lo -= d / 2; hi += d / 2; }
  const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  let step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= raw) || raw;
  if (integer) step = Math.max(1, Math.round(step === 2.5 * mag ? 2 * mag : step));  // steps are whole
  const ticks = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
    ticks.push(Number(t.toPrecision(12)));
  return {lo: Math.min(lo, ticks[0]), hi: Math.max(hi, ticks[ticks.length - 1]), ticks};
}

// A line chart: series = [{name, points: [[x, y], ...]}]; opts.unit: [0, 1] y axis for shares.
function lineChart(title, series, opts) {
  opts = opts || {};
  const card = el("div", {class: "card chart-card"}, el("h3", {}, title));
  const W = 460, H = 240, L = 52, R = 12, T = 10, B = 30;
  const pts = series.flatMap(s => s.points);
  const s = svg("svg", {class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "data-title": title});
  s.appendChild(svg("title", {}, title));
  if (!pts.length) { card.appendChild(el("p", {class: "empty"}, "no points")); return card; }
  const xs = pts.map(p => p[0]), ys = pts.map(p => p[1]);
  let ylo = Math.min(...ys), yhi = Math.max(...ys);
  if (opts.unit) { ylo = Math.min(0, ylo); yhi = Math.max(1, yhi); }
  const xt = niceTicks(Math.min(...xs), Math.max(...xs), 6, xs.every(Number.isInteger)), yt = niceTicks(ylo, yhi, 5);
  const X = x => L + (x - xt.lo) / (xt.hi - xt.lo) * (W - L - R);
  const Y = y => T + (1 - (y - yt.lo) / (yt.hi - yt.lo)) * (H - T - B);
  for (const t of yt.ticks) {
    s.appendChild(svg("line", {class: "gridline", x1: L, x2: W - R, y1: Y(t), y2: Y(t)}));
    s.appendChild(svg("text", {x: L - 6, y: Y(t) + 3, "text-anchor": "end"}, fmt(t)));
  }
  for (const t of xt.ticks) s.appendChild(svg("text", {x: X(t), y: H - B + 14, "text-anchor": "middle"}, fmt(t)));
  s.appendChild(svg("line", {class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B}));
  s.appendChild(svg("line", {class: "axis", x1: L, x2: L, y1: T, y2: H - B}));
  s.appendChild(svg("text", {x: (L + W - R) / 2, y: H - 3, "text-anchor": "middle"}, "step"));
  const legend = el("div", {class: "legend"});
  series.forEach((ser, i) => {
    const color = COLORS[i % COLORS.length];
    const p = ser.points.slice().sort((a, b) => a[0] - b[0]);
    const d = p.map((q, j) => (j ? "L" : "M") + X(q[0]).toFixed(1) + " " + Y(q[1]).toFixed(1)).join(" ");
    s.appendChild(svg("path", {class: "line", d, stroke: color, "data-series": ser.name, "data-points": p.length}));
    if (p.length <= 120) for (const q of p) {
      const c = svg("circle", {cx: X(q[0]).toFixed(1), cy: Y(q[1]).toFixed(1), r: p.length <= 30 ? 2.6 : 1.6,
                               fill: color});
      c.appendChild(svg("title", {}, `${ser.name} at step ${q[0]}: ${fmt(q[1])}`));
      s.appendChild(c);
    }
    const last = p[p.length - 1];
    legend.appendChild(el("span", {}, el("span", {class: "sw", style: "background:" + color}),
                          `${ser.name} (last ${fmt(last[1])})`));
  });
  card.appendChild(s);
  card.appendChild(legend);
  return card;
}

function renderCurves() {
  const grid = document.getElementById("curves"), more = document.getElementById("curves-more");
  const train = DATA.train, ev = DATA.eval, used = new Set();
  const pick = (src, re, prefix) => Object.keys(src).filter(k => re.test(k) && !used.has(prefix + k))
    .map(k => { used.add(prefix + k); return {name: k, points: src[k]}; });
  const groups = [
    ["Training loss",
     [...pick(train, /^loss$/, "t:"), ...pick(ev, /^loss$/, "e:").map(s => ({...s, name: "eval loss"}))]],
    ["Learning rate", pick(train, /^lr$/, "t:")],
    ["Eval: accuracy, pass@k, avg@k, maj@k",
     pick(ev, /^(accuracy|format_rate)$|^(pass|avg|maj|cons)@/, "e:"), {unit: true}],
    ["Eval: failure modes (share of responses)",
     pick(ev, /(cut_?off|unclosed|no_answer|repetition|loop|timed_out|_rate$|_share$)/, "e:"), {unit: true}],
    ["Eval: response length (tokens)", pick(ev, /length/, "e:")],
    ["Gradient norm", pick(train, /^grad_norm$/, "t:")],
    ["Training entropy (per token)", pick(train, /^entropy$/, "t:")],
  ];
  let n = 0;
  for (const [title, series, opts] of groups) {
    if (!series.length) continue;
    grid.appendChild(lineChart(title, series, opts));
    n++;
  }
  const rest = Object.keys(ev).filter(k => !used.has("e:" + k));
  for (const k of rest) more.appendChild(lineChart("Eval: " + k, [{name: k, points: ev[k]}]));
  if (!rest.length) document.getElementById("curves-more-box").hidden = true;
  else document.getElementById("curves-more-n").textContent = String(rest.length);
  if (!n) grid.appendChild(el("p", {class: "empty"},
    "No metrics.jsonl with train or eval rows here (an evaluation directory has none): no curves."));
}

function renderSummary() {
  const box = document.getElementById("summary");
  if (!DATA.summary.length) { box.appendChild(el("p", {class: "empty"}, "No summary.json.")); return; }
  const isMetric = k => /(^|_)(accuracy|format_rate|mean_reward)($|_)|(pass|avg|maj|cons)@/.test(k);
  const isFailure = k => !/format_rate|histogram/.test(k) &&
    /(cut_?off|unclosed|no_answer|repetition|loop|timed_out)|_rate($|_)|_share($|_)/.test(k);
  const groups = [["Evaluation", []], ["Failure modes", []], ["Run", []]];
  for (const [k, v] of DATA.summary) {
    (isFailure(k) ? groups[1] : isMetric(k) ? groups[0] : groups[2])[1].push([k, v]);
  }
  const table = el("table", {class: "kv", id: "summary-table"});
  for (const [name, rows] of groups) {
    if (!rows.length) continue;
    table.appendChild(el("tr", {class: "group"}, el("td", {colspan: "2"}, name)));
    for (const [k, v] of rows) {
      const val = el("td", {class: "v"}, fmt(v));
      if (name !== "Run" && typeof v === "number" && v >= 0 && v <= 1)
        val.appendChild(el("span", {class: "bar" + (name === "Failure modes" ? " fail" : ""),
                                    style: `width:${(v * 90).toFixed(1)}px`}));
      table.appendChild(el("tr", {"data-key": k}, el("td", {class: "k"}, k), val));
    }
  }
  box.appendChild(table);
  for (const t of DATA.tables) {
    const head = el("tr", {}, ...t.columns.map(c => el("th", {}, c)));
    const tb = el("table", {class: "kv sub", "data-table": t.name}, head);
    for (const r of t.rows) tb.appendChild(el("tr", {}, ...r.map(v => el("td", {}, fmt(v)))));
    box.appendChild(el("h3", {class: "subhead"}, t.name));
    box.appendChild(tb);
  }
}

// Bars of a list of counts (solve_rate_histogram: entry c = prompts with c samples correct).
function countBars(h) {
  const card = el("div", {class: "card"}, el("h3", {}, h.name.endsWith("solve_rate_histogram") ?
    `prompts by samples correct (of ${h.counts.length - 1})` : h.name));
  const W = 720, H = 200, Lm = 44, R = 10, T = 10, B = 34;
  const s = svg("svg", {class: "chart", "data-histogram": h.name, viewBox: `0 0 ${W} ${H}`, role: "img"});
  const top = niceTicks(0, Math.max(1, ...h.counts), 4);
  const bw = (W - Lm - R) / h.counts.length, Y = y => T + (1 - y / top.hi) * (H - T - B);
  for (const t of top.ticks) {
    s.appendChild(svg("line", {class: "gridline", x1: Lm, x2: W - R, y1: Y(t), y2: Y(t)}));
    s.appendChild(svg("text", {x: Lm - 6, y: Y(t) + 3, "text-anchor": "end"}, fmt(t)));
  }
  h.counts.forEach((c, i) => {
    const r = svg("rect", {class: "count-bar", x: (Lm + i * bw + 2).toFixed(1), y: Y(c).toFixed(1),
                           width: Math.max(1, bw - 4).toFixed(1), height: (Y(0) - Y(c)).toFixed(1), fill: "#2563eb",
                           opacity: 0.8});
    r.appendChild(svg("title", {}, `${i}: ${c}`));
    s.appendChild(r);
    if (h.counts.length <= 33)
      s.appendChild(svg("text", {x: Lm + (i + 0.5) * bw, y: H - B + 14, "text-anchor": "middle"}, String(i)));
  });
  s.appendChild(svg("line", {class: "axis", x1: Lm, x2: W - R, y1: H - B, y2: H - B}));
  card.appendChild(s);
  return card;
}

function renderHistogram() {
  for (const h of DATA.histograms) document.getElementById("count-histograms").appendChild(countBars(h));
  const box = document.getElementById("histogram");
  const L = DATA.lengths;
  if (!L.length) { box.appendChild(el("p", {class: "empty"}, "No generations.")); return; }
  const W = 720, H = 280, Lm = 44, R = 10, T = 10, B = 34, NB = 20;
  const max = Math.max(1, ...L.map(x => x[0]));
  const width = Math.max(1, Math.ceil((max + 1) / NB));
  const bins = Array.from({length: Math.ceil((max + 1) / width)}, () => [0, 0]);
  for (const [n, ok] of L) bins[Math.min(bins.length - 1, Math.floor(n / width))][ok ? 0 : 1]++;
  const top = niceTicks(0, Math.max(1, ...bins.flat()), 4);
  const s = svg("svg", {class: "chart", id: "length-histogram", viewBox: `0 0 ${W} ${H}`, role: "img"});
  const bw = (W - Lm - R) / bins.length;
  const Y = y => T + (1 - y / top.hi) * (H - T - B);
  for (const t of top.ticks) {
    s.appendChild(svg("line", {class: "gridline", x1: Lm, x2: W - R, y1: Y(t), y2: Y(t)}));
    s.appendChild(svg("text", {x: Lm - 6, y: Y(t) + 3, "text-anchor": "end"}, fmt(t)));
  }
  bins.forEach((b, i) => {
    [["correct", "#16a34a", 0], ["incorrect", "#dc2626", 1]].forEach(([name, color, j]) => {
      if (!b[j]) return;
      const x = Lm + i * bw + 1 + j * (bw - 2) / 2;
      const r = svg("rect", {class: "bar-" + name, x: x.toFixed(1), y: Y(b[j]).toFixed(1),
                             width: ((bw - 2) / 2).toFixed(1), height: (Y(0) - Y(b[j])).toFixed(1),
                             fill: color, opacity: 0.8});
      r.appendChild(svg("title", {}, `${b[j]} ${name}, ${i * width}-${(i + 1) * width - 1} tokens`));
      s.appendChild(r);
    });
  });
  const ticksEvery = Math.ceil(bins.length / 8);
  for (let i = 0; i <= bins.length; i += ticksEvery)
    s.appendChild(svg("text", {x: Lm + i * bw, y: H - B + 14, "text-anchor": "middle"}, String(i * width)));
  s.appendChild(svg("line", {class: "axis", x1: Lm, x2: W - R, y1: H - B, y2: H - B}));
  s.appendChild(svg("text", {x: (Lm + W - R) / 2, y: H - 4, "text-anchor": "middle"}, "response length (tokens)"));
  box.appendChild(s);
  const median = a => { if (!a.length) return null; const b = a.slice().sort((x, y) => x - y);
    const m = b.length >> 1; return b.length % 2 ? b[m] : (b[m - 1] + b[m]) / 2; };
  const ok = L.filter(x => x[1]).map(x => x[0]), bad = L.filter(x => !x[1]).map(x => x[0]);
  box.appendChild(el("div", {class: "legend"},
    el("span", {}, el("span", {class: "sw", style: "background:#16a34a"}),
       `correct: ${ok.length}, median ${fmt(median(ok))}`),
    el("span", {}, el("span", {class: "sw", style: "background:#dc2626"}),
       `incorrect: ${bad.length}, median ${fmt(median(bad))}`)));
}

// The response with <think>/<answer> blocks marked; text nodes only.
const TAG = /<\/?(think|answer)>/g;
function highlighted(text) {
  const pre = el("pre", {class: "text response"});
  const open = text.indexOf("<think>"), close = text.indexOf("</think>");
  let state = close >= 0 && (open < 0 || close < open) ? "think" : "out";  // the prompt opened <think>
  let last = 0, m;
  const put = (s) => {
    if (s) pre.appendChild(state === "out" ? document.createTextNode(s) : el("span", {class: "seg-" + state}, s));
  };
  TAG.lastIndex = 0;
  while ((m = TAG.exec(text)) !== null) {
    put(text.slice(last, m.index));
    pre.appendChild(el("span", {class: "tag " + m[1]}, m[0]));
    state = m[0][1] === "/" ? "out" : m[1];
    last = m.index + m[0].length;
  }
  put(text.slice(last));
  return pre;
}

const FILTERS = {
  all: r => true, correct: r => r.correct, incorrect: r => !r.correct, cutoff: r => r.cut, looping: r => r.loop,
};
const LABELS = {all: "All", correct: "Correct", incorrect: "Incorrect", cutoff: "Cut off", looping: "Looping"};
const PAGE = 50;
let view = {filter: "all", page: 0, q: ""};

function readHash() {
  const h = new URLSearchParams(location.hash.slice(1));
  const f = h.get("filter");
  view.filter = f && FILTERS[f] ? f : "all";
  view.page = Math.max(0, (parseInt(h.get("page") || "1", 10) || 1) - 1);
  view.q = h.get("q") || "";
}
function writeHash() {
  const h = new URLSearchParams();
  if (view.filter !== "all") h.set("filter", view.filter);
  if (view.page) h.set("page", String(view.page + 1));
  if (view.q) h.set("q", view.q);
  const s = h.toString();
  history.replaceState(null, "", s ? "#" + s : location.pathname + location.search);
  renderRows();
}

function row(r) {
  const text = DATA.prompts[r.p];
  const tail = text.length > 160 ? "\u2026" + text.slice(-160) : text;
  const prompt = el("details", {class: "prompt"}, el("summary", {}, tail), el("pre", {class: "text"}, text));
  const flags = el("td", {class: "flags"},
    el("span", {class: "badge " + (r.correct ? "ok" : "bad")}, r.correct ? "correct" : "incorrect"));
  if (r.cut) flags.appendChild(el("span", {class: "badge cut"}, "cut off"));
  if (r.loop) flags.appendChild(el("span", {class: "badge loop"}, "looping"));
  return el("tr", {class: "gen " + (r.correct ? "good" : "bad"), "data-index": String(r.i),
                   "data-correct": String(r.correct), "data-cut": String(r.cut), "data-loop": String(r.loop)},
    el("td", {class: "mono", title: "record (prompt.sample)"},
       r.prompt_index !== null && r.sample !== null ? `${r.prompt_index}.${r.sample}` : String(r.i)),
    el("td", {}, prompt),
    el("td", {}, highlighted(r.response)),
    el("td", {class: "mono answer"}, r.answer === null ? "-" : r.answer),
    el("td", {class: "mono truth"}, r.truth),
    flags,
    el("td", {class: "mono"}, r.n === null ? "-" : String(r.n)));
}

function renderRows() {
  const q = view.q.toLowerCase();
  const rows = DATA.records.filter(FILTERS[view.filter])
    .filter(r => !q || DATA.prompts[r.p].toLowerCase().includes(q) || r.response.toLowerCase().includes(q));
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  view.page = Math.min(view.page, pages - 1);
  const body = document.getElementById("gen-body");
  body.replaceChildren(...rows.slice(view.page * PAGE, (view.page + 1) * PAGE).map(row));
  for (const b of document.querySelectorAll("#filters button"))
    b.classList.toggle("active", b.dataset.filter === view.filter);
  document.getElementById("gen-count").textContent =
    `${rows.length} of ${DATA.records.length} shown` + (DATA.n_records > DATA.records.length ?
      ` (the first ${DATA.records.length} of ${DATA.n_records} records are in this page)` : "");
  document.getElementById("page-info").textContent = `page ${view.page + 1} of ${pages}`;
  document.getElementById("prev").disabled = view.page === 0;
  document.getElementById("next").disabled = view.page >= pages - 1;
  document.getElementById("search").value = view.q;
  document.body.dataset.filter = view.filter;
}

function renderGenerations() {
  document.getElementById("gen-file").textContent = DATA.generations_file ? DATA.generations_file : "none";
  const filters = document.getElementById("filters");
  for (const f of Object.keys(FILTERS)) {
    const n = DATA.records.filter(FILTERS[f]).length;
    const b = el("button", {type: "button", "data-filter": f}, `${LABELS[f]} (${n})`);
    b.addEventListener("click", () => { view.filter = f; view.page = 0; writeHash(); });
    filters.appendChild(b);
  }
  document.getElementById("search").addEventListener("input", e => {
    view.q = e.target.value; view.page = 0; writeHash();
  });
  document.getElementById("prev").addEventListener("click", () => { view.page--; writeHash(); });
  document.getElementById("next").addEventListener("click", () => { view.page++; writeHash(); });
  const notes = document.getElementById("gen-notes");
  const what = {cut_off: "cut off", looping: "looping", answer: "extracted answer"};
  for (const [k, v] of Object.entries(DATA.notes)) notes.appendChild(el("div", {}, `${what[k] || k}: ${v}`));
  window.addEventListener("hashchange", () => { readHash(); renderRows(); });
  readHash();
  renderRows();
}

document.getElementById("run-dir").textContent = DATA.run_dir;
renderCurves();
renderSummary();
renderHistogram();
renderGenerations();
document.body.dataset.ready = "1";
"""

PAGE = (
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{TITLE}}</title>
<style>"""
    + CSS
    + """</style>
</head>
<body>
<header><h1>{{TITLE}}</h1>
<div class="sub">run directory <span id="run-dir"></span> · written by tracesft report</div></header>
<main>
<h2>Curves</h2>
<div class="grid" id="curves"></div>
<details class="more" id="curves-more-box"><summary>more eval series (<span id="curves-more-n"></span>)</summary>
<div class="grid" id="curves-more"></div></details>
<div class="two">
<section><h2>Final summary</h2><div class="card" id="summary"></div></section>
<section><h2>Response length: correct vs incorrect</h2><div class="card" id="histogram"></div>
<div id="count-histograms"></div></section>
</div>
<h2>Generations <span class="notes">(<span id="gen-file"></span>)</span></h2>
<div class="controls"><span id="filters"></span>
<input id="search" type="search" placeholder="search prompts and responses" aria-label="search">
<span class="count" id="gen-count"></span></div>
<table class="gens" id="generations">
<colgroup><col style="width:48px"><col style="width:22%"><col><col style="width:11%"><col style="width:9%">
<col style="width:110px"><col style="width:60px"></colgroup>
<thead><tr><th>#</th><th>prompt (its end)</th><th>response</th><th>extracted answer</th><th>truth</th><th>grade</th>
<th>tokens</th></tr></thead>
<tbody id="gen-body"></tbody></table>
<div class="pager"><button type="button" id="prev">previous</button><span id="page-info"></span>
<button type="button" id="next">next</button></div>
<div class="notes" id="gen-notes"></div>
</main>
<script type="application/json" id="report-data">{{DATA}}</script>
<script>"""
    + JS
    + """</script>
</body>
</html>
"""
)

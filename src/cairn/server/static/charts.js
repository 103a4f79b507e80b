// Run charts: one SVG line chart per metric, drawn from the JSON block named by
// <div class="charts" data-series="ID">: [{"key", "steps": [...], "values": [... or null]}].
// No library and no inline style (the page's Content-Security-Policy forbids both);
// colours and sizes come from style.css classes.
(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const W = 360, H = 200, PAD = { left: 52, right: 12, top: 10, bottom: 26 };

  const el = (name, attrs, parent) => {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (parent) parent.appendChild(node);
    return node;
  };

  // A short label for an axis value: 3 significant digits, exponent when far from 1.
  const label = (v) => {
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
    return String(Number(v.toPrecision(3)));
  };

  // About n round values spanning [lo, hi].
  const ticks = (lo, hi, n) => {
    if (hi === lo) return [lo];
    const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
    return out;
  };

  const draw = (figure, s) => {
    const pts = s.steps.map((x, i) => [x, s.values[i]]).filter((p) => p[1] !== null);
    const title = document.createElement("figcaption");
    title.textContent = s.key;
    figure.appendChild(title);
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${s.key} by step`, class: "chart-svg" }, figure);
    if (!pts.length) return;
    let [x0, x1] = [pts[0][0], pts[pts.length - 1][0]];
    let y0 = Math.min(...pts.map((p) => p[1])), y1 = Math.max(...pts.map((p) => p[1]));
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    if (y0 === y1) { y0 -= Math.abs(y0) * 0.1 || 1; y1 += Math.abs(y1) * 0.1 || 1; }
    const px = (x) => PAD.left + ((x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
    const py = (y) => H - PAD.bottom - ((y - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
    for (const t of ticks(y0, y1, 4)) {
      el("line", { x1: PAD.left, x2: W - PAD.right, y1: py(t), y2: py(t), class: "grid-line" }, svg);
      el("text", { x: PAD.left - 6, y: py(t) + 4, class: "tick y" }, svg).textContent = label(t);
    }
    for (const t of ticks(x0, x1, 4)) {
      if (!Number.isInteger(t)) continue;
      el("text", { x: px(t), y: H - 8, class: "tick x" }, svg).textContent = Math.abs(t) < 1e7 ? String(t) : label(t);
    }
    // one path; a null value (NaN or infinity when logged) breaks the line
    let d = "", pen = "M";
    s.steps.forEach((x, i) => {
      const y = s.values[i];
      if (y === null) { pen = "M"; return; }
      d += `${pen}${px(x).toFixed(1)},${py(y).toFixed(1)}`;
      pen = "L";
    });
    el("path", { d, class: "series" }, svg);
    if (pts.length === 1) el("circle", { cx: px(pts[0][0]), cy: py(pts[0][1]), r: 3, class: "series-dot" }, svg);
    // hover: the nearest point's step and value
    const dot = el("circle", { r: 3.5, class: "hover-dot", visibility: "hidden" }, svg);
    const tip = el("text", { class: "hover-text", visibility: "hidden", y: PAD.top + 10 }, svg);
    svg.addEventListener("mousemove", (event) => {
      const box = svg.getBoundingClientRect();
      const x = x0 + ((event.clientX - box.left) / box.width * W - PAD.left) / (W - PAD.left - PAD.right) * (x1 - x0);
      let best = pts[0];
      for (const p of pts) if (Math.abs(p[0] - x) < Math.abs(best[0] - x)) best = p;
      dot.setAttribute("cx", px(best[0]));
      dot.setAttribute("cy", py(best[1]));
      tip.setAttribute("x", W - PAD.right);
      tip.textContent = `step ${best[0]}: ${label(best[1])}`;
      dot.setAttribute("visibility", "visible");
      tip.setAttribute("visibility", "visible");
    });
    svg.addEventListener("mouseleave", () => {
      dot.setAttribute("visibility", "hidden");
      tip.setAttribute("visibility", "hidden");
    });
    figure.dataset.points = String(pts.length);
  };

  const render = () => {
    for (const holder of document.querySelectorAll(".charts[data-series]")) {
      const source = document.getElementById(holder.dataset.series);
      if (!source) continue;
      for (const s of JSON.parse(source.textContent)) {
        const figure = document.createElement("figure");
        figure.className = "chart";
        figure.dataset.metric = s.key;
        holder.appendChild(figure);
        draw(figure, s);
      }
      holder.dataset.drawn = "true";
    }
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", render);
  else render();
})();

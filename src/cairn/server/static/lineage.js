// Pan and zoom of the lineage graph (#lineage-svg): drag to pan, wheel or buttons to zoom,
// "Fit" to show it whole. It changes only the SVG's viewBox; the layout comes from the server.
// A click on a counted group fetches the graph with that group expanded (the server lays it
// out again) and swaps it in place, without a page load; the address follows it.
(function () {
  "use strict";
  let svg, canvas, full, box;
  let drag = null;
  let moved = false;
  const set = () => svg.setAttribute("viewBox", box.join(" "));

  function zoom(factor, cx, cy) {  // cx, cy: the point that stays put (graph units)
    const w = Math.min(Math.max(box[2] * factor, 80), full[2] * 8 + 2000);
    const k = w / box[2];
    box = [cx - (cx - box[0]) * k, cy - (cy - box[1]) * k, box[2] * k, box[3] * k];
    set();
  }

  function toGraph(clientX, clientY) {
    const r = svg.getBoundingClientRect();
    // preserveAspectRatio meet: one scale, the drawing centred
    const s = Math.max(box[2] / r.width, box[3] / r.height);
    const ox = box[0] - (r.width * s - box[2]) / 2;
    const oy = box[1] - (r.height * s - box[3]) / 2;
    return [ox + (clientX - r.left) * s, oy + (clientY - r.top) * s, s];
  }

  async function expand(link) {
    const graph = document.getElementById("lineage-graph");
    graph.setAttribute("aria-busy", "true");
    try {
      const r = await fetch(link.dataset.expandHref, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      const fresh = doc.getElementById("lineage-graph");
      if (!fresh) throw new Error("no graph in the answer");
      graph.replaceWith(document.adoptNode(fresh));
      history.replaceState(null, "", link.getAttribute("href"));
      const hidden = document.querySelector(".depth-form input[name=expand]") || (() => {
        const i = document.createElement("input");
        i.type = "hidden";
        i.name = "expand";
        document.querySelector(".depth-form").append(i);
        return i;
      })();
      hidden.value = fresh.dataset.expand;
      bind();
    } catch (e) {
      window.location.assign(link.getAttribute("href"));  // the same graph, by a page load
    }
  }

  function bind() {
    svg = document.getElementById("lineage-svg");
    if (!svg) return;
    canvas = document.getElementById("lineage-canvas");
    full = [-10, -10, Number(svg.dataset.width), Number(svg.dataset.height)];
    box = full.slice();
    // start legible: a large graph opens at its focus, boxes at about their real size
    const focus = svg.querySelector(".node-current rect");
    const r = svg.getBoundingClientRect();
    if (focus && r.width > 0 && full[2] > r.width * 1.5) {
      const fx = Number(focus.getAttribute("x")) + 95, fy = Number(focus.getAttribute("y")) + 23;
      box = [fx - r.width / 2, fy - r.height / 2, r.width, r.height];
      set();
    }
    canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      const [gx, gy] = toGraph(e.clientX, e.clientY);
      zoom(e.deltaY > 0 ? 1.15 : 1 / 1.15, gx, gy);
    }, { passive: false });
    canvas.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, box: box.slice(), s: toGraph(e.clientX, e.clientY)[2] };
      moved = false;
    });
    // a drag that ends on a node is not a click on its link
    canvas.addEventListener("click", (e) => {
      if (moved) { e.preventDefault(); e.stopPropagation(); moved = false; }
    }, true);
    canvas.querySelectorAll("a[data-expand-href]").forEach((a) => a.addEventListener("click", (e) => {
      e.preventDefault();
      expand(a);
    }));
    document.querySelectorAll("#lineage-graph [data-zoom]").forEach((b) => b.addEventListener("click", () => {
      const cx = box[0] + box[2] / 2, cy = box[1] + box[3] / 2;
      if (b.dataset.zoom === "in") zoom(1 / 1.3, cx, cy);
      else if (b.dataset.zoom === "out") zoom(1.3, cx, cy);
      else { box = full.slice(); set(); }
    }));
    document.getElementById("lineage-graph").dataset.ready = "1";
  }

  window.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (!moved && Math.abs(dx) + Math.abs(dy) < 4) return;  // a click, not a drag
    moved = true;
    canvas.classList.add("dragging");
    box = [drag.box[0] - dx * drag.s, drag.box[1] - dy * drag.s, drag.box[2], drag.box[3]];
    set();
  });
  window.addEventListener("pointerup", () => {
    drag = null;
    if (canvas) canvas.classList.remove("dragging");
  });
  bind();
})();

// Preview tables (templates/previews/table.html): shown a page at a time, sortable by a click
// on a column's header (numbers by value, the rest as text; a second click reverses).
(() => {
  const NUMERIC = /^(u?int|float|double|decimal|halffloat|number)/;

  function setup(table) {
    const size = parseInt(table.dataset.pageSize, 10) || 50;
    const body = table.tBodies[0];
    const rows = [...body.rows];
    const pager = table.closest(".preview").querySelector(".table-pager");
    let page = 0;

    function draw() {
      const pages = Math.max(Math.ceil(rows.length / size), 1);
      page = Math.min(page, pages - 1);
      rows.forEach((r, i) => { r.hidden = i < page * size || i >= (page + 1) * size; });
      if (rows.length <= size) { pager.hidden = true; return; }
      pager.hidden = false;
      pager.replaceChildren();
      const button = (label, to, enabled) => {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = label;
        b.disabled = !enabled;
        b.addEventListener("click", () => { page = to; draw(); });
        return b;
      };
      const where = document.createElement("span");
      where.className = "muted page-info";
      const first = page * size + 1, last = Math.min((page + 1) * size, rows.length);
      where.textContent = `rows ${first.toLocaleString()}–${last.toLocaleString()} of ${rows.length.toLocaleString()}`;
      pager.append(button("← Previous", page - 1, page > 0), where, button("Next →", page + 1, page < pages - 1));
    }

    [...table.tHead.rows[0].cells].forEach((th, col) => {
      th.classList.add("sortable");
      th.tabIndex = 0;
      const numeric = NUMERIC.test(th.dataset.type || "");
      const sort = () => {
        const down = th.getAttribute("aria-sort") === "ascending";
        for (const other of th.parentElement.cells) other.setAttribute("aria-sort", "none");
        th.setAttribute("aria-sort", down ? "descending" : "ascending");
        const key = (r) => r.cells[col] ? r.cells[col].textContent : "";
        const cmp = numeric
          ? (a, b) => {
              const x = parseFloat(key(a)), y = parseFloat(key(b));
              if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : 1;  // blanks last
              if (Number.isNaN(y)) return -1;
              return x - y;
            }
          : (a, b) => key(a).localeCompare(key(b), undefined, { numeric: true });
        rows.sort((a, b) => (down ? -cmp(a, b) : cmp(a, b)));
        body.append(...rows);
        page = 0;
        draw();
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
    });
    draw();
    table.dataset.ready = "1";
  }

  function all() { document.querySelectorAll("table.preview-rows").forEach(setup); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all);
  else all();
})();

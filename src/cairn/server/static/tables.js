// Preview tables (templates/previews/table.html): the server sends one page of rows; a click on
// a column's header sorts that page (numbers by value, the rest as text; a second click reverses).
(() => {
  const NUMERIC = /^(u?int|float|double|decimal|halffloat|number)/;

  function setup(table) {
    const body = table.tBodies[0];
    const rows = [...body.rows];

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
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
    });
    table.dataset.ready = "1";
  }

  function all() { document.querySelectorAll("table.preview-rows").forEach(setup); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all);
  else all();
})();

// Every <time datetime> in the viewer's own time zone, followed by a relative time ("3 hours
// ago"). The server writes UTC text, which stays as the tooltip (and is what shows without JS).
(() => {
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const zone = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" });
  const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
                 ["hour", 3600], ["minute", 60], ["second", 1]];
  const pad = (n) => String(n).padStart(2, "0");

  function relative(date) {
    const seconds = (date.getTime() - Date.now()) / 1000;
    for (const [unit, size] of UNITS) {
      if (Math.abs(seconds) >= size || unit === "second") return rtf.format(Math.round(seconds / size), unit);
    }
    return "";
  }

  function local(date) {
    const part = zone.formatToParts(date).find((p) => p.type === "timeZoneName");
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
           `${pad(date.getHours())}:${pad(date.getMinutes())}${part ? " " + part.value : ""}`;
  }

  function show() {
    for (const t of document.querySelectorAll("time[datetime]")) {
      const date = new Date(t.getAttribute("datetime"));
      if (Number.isNaN(date.getTime())) continue;
      if (!t.dataset.utc) t.dataset.utc = t.textContent;
      t.textContent = `${local(date)} · ${relative(date)}`;
      t.title = t.dataset.utc;
      t.dataset.local = "1";
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", show);
  else show();
  setInterval(show, 60000);
})();

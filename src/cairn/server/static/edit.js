// Editing a version from its page (#edit, shown to the write role only): every change is a
// call to the same JSON API the SDK uses, with the login cookie and the page's CSRF token.
(function () {
  "use strict";
  const box = document.getElementById("edit");
  if (!box) return;
  const id = box.dataset.versionId;
  const token = box.dataset.csrf;
  const status = box.querySelector(".edit-status");

  function say(text, bad) {
    status.textContent = text;  // text, never markup
    status.classList.toggle("error", !!bad);
  }

  async function api(method, path, body) {
    const init = { method: method, credentials: "same-origin", headers: { "X-CSRF-Token": token } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch("/api/v1" + path, init);
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (!r.ok) {
      const msg = data && data.error && data.error.message ? data.error.message : "the server answered " + r.status;
      throw new Error(msg);
    }
    return data;
  }

  async function run(label, work) {
    box.classList.add("busy");
    say(label + "…", false);
    try {
      const next = await work();  // a URL to go to, or anything else: reload this page
      say(label + ": done", false);
      window.location.assign(typeof next === "string" ? next : window.location.href);
    } catch (e) {
      say(label + " failed: " + e.message, true);
    } finally {
      box.classList.remove("busy");
    }
  }

  const current = () => api("GET", "/versions/" + id);

  box.addEventListener("click", (event) => {
    const alias = event.target.closest("[data-remove-alias]");
    const tag = event.target.closest("[data-remove-tag]");
    if (alias) {
      const a = alias.dataset.removeAlias;
      run("Remove alias " + a, () => api("PATCH", "/versions/" + id, { remove_aliases: [a] }));
    } else if (tag) {
      const t = tag.dataset.removeTag;
      run("Remove tag " + t, async () => {
        const v = await current();
        return api("PATCH", "/versions/" + id, { tags: v.tags.filter((x) => x !== t) }).then(() => null);
      });
    }
  });

  box.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-edit]");
    if (!form) return;
    event.preventDefault();
    const kind = form.dataset.edit;
    if (kind === "add-alias") {
      const a = form.elements.alias.value.trim();
      run("Add alias " + a, async () => {
        const v = await current();
        await api("PATCH", "/versions/" + id, { aliases: v.aliases.concat([a]) });
        return null;
      });
    } else if (kind === "add-tag") {
      const t = form.elements.tag.value.trim();
      run("Add tag " + t, async () => {
        const v = await current();
        await api("PATCH", "/versions/" + id, { tags: v.tags.concat([t]) });
        return null;
      });
    } else if (kind === "description") {
      run("Save description", () => api("PATCH", "/versions/" + id, { description: form.elements.description.value }).then(() => null));
    } else if (kind === "metadata") {
      let value;
      try {
        value = JSON.parse(form.elements.metadata.value);
      } catch (e) {
        say("Metadata is not valid JSON: " + e.message, true);
        return;
      }
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        say("Metadata must be a JSON object ({\"key\": value, …})", true);
        return;
      }
      run("Save metadata", () => api("PATCH", "/versions/" + id, { metadata: value }).then(() => null));
    } else if (kind === "delete") {
      const withAliases = form.elements.delete_aliases ? form.elements.delete_aliases.checked : false;
      run("Delete", async () => {
        await api("DELETE", "/versions/" + id + "?delete_aliases=" + withAliases);
        return box.dataset.artifactHref;
      });
    }
  });
})();

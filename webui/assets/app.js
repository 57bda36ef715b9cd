// The web UI's one script: pages work without it; with it, the dashboard and a deployment's
// log follow the server live (server-sent events), without a reload.
"use strict";

function liveDashboard(box) {
  const events = new EventSource("/api/events");
  let pending = false;
  const refresh = () => {
    if (pending) return;
    pending = true;
    fetch("/fragments/dashboard", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => { box.innerHTML = html; box.dataset.updated = String(Date.now()); })
      .catch(() => {})
      .finally(() => { pending = false; });
  };
  events.addEventListener("changed", refresh);
}

function liveLog(pre) {
  const id = pre.dataset.logFor;
  const state = document.getElementById("state");
  const after = pre.dataset.after || "0";
  const events = new EventSource("/api/deployments/" + encodeURIComponent(id) + "/log?after=" + after);
  events.addEventListener("log", (e) => {
    const line = JSON.parse(e.data);
    pre.append(line.text + "\n");
    pre.scrollTop = pre.scrollHeight;
  });
  events.addEventListener("state", (e) => {
    const d = JSON.parse(e.data);
    if (state) state.textContent = d.state;
    if (d.final) { events.close(); setTimeout(() => location.reload(), 300); }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-live=dashboard]");
  if (box) liveDashboard(box);
  const pre = document.querySelector("pre[data-log-for]");
  if (pre) liveLog(pre);
});

// Stook console: times in the browser's zone, confirmations, live progress over Server-Sent Events.
"use strict";

const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
const format = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "numeric",
  hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
});

function localize(root) {
  for (const el of root.querySelectorAll("time[datetime]")) {
    const when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) {
      el.textContent = format.format(when);
      el.title = el.getAttribute("datetime") + " (UTC)";
    }
  }
  for (const el of root.querySelectorAll("[data-zone]")) el.textContent = zone;
}

function confirmations(root) {
  for (const form of root.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

function live() {
  const box = document.querySelector("[data-stream]");
  const state = document.querySelector("[data-live-state]");
  if (!box || !window.EventSource) return;
  const source = new EventSource(box.dataset.stream);
  source.addEventListener("open", () => { state.textContent = "Live updates: on"; });
  source.addEventListener("error", () => { state.textContent = "Live updates: reconnecting…"; });
  source.addEventListener("gone", () => {
    state.textContent = "Live updates: the upgrade is gone";
    source.close();
  });
  source.addEventListener("update", (event) => {
    // Keep a half-ticked confirmation and the focus across the update.
    const ticked = box.querySelector("#read_notes")?.checked;
    const focused = document.activeElement?.closest("form")?.getAttribute("action");
    box.innerHTML = event.data;
    const tick = box.querySelector("#read_notes");
    if (tick && ticked) tick.checked = true;
    localize(box);
    confirmations(box);
    if (focused) box.querySelector(`form[action="${focused}"] button`)?.focus();
    box.dataset.updated = String(Date.now());
    state.textContent = "Live updates: on (last change " + format.format(new Date()) + ")";
  });
}

document.addEventListener("DOMContentLoaded", () => {
  localize(document);
  confirmations(document);
  live();
});

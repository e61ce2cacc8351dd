// The alarm console: a queue kept current by server-sent events (no reload, no polling),
// clocks for waiting time and escalation, a sound cue for new critical alerts, keyboard use,
// and the map on the emergency card. Everything here is an enhancement over server pages.
(function () {
  "use strict";
  let skew = 0; // server clock minus ours, in seconds
  const nowS = () => Date.now() / 1000 + skew;
  const mmss = (s) => {
    s = Math.max(0, Math.floor(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(r).padStart(2, "0");
  };

  // -- clocks (waiting, escalation countdown) on queue and card ---------------------------
  function tick() {
    const now = nowS();
    let waiting = 0, overdue = 0, open = 0;
    const limit = Number((document.getElementById("console") || {}).dataset?.overdue || 60);
    document.querySelectorAll("tr.qrow").forEach((tr) => {
      open++;
      const waited = now - Number(tr.dataset.created);
      const cell = tr.querySelector(".waited");
      if (cell) cell.textContent = mmss(waited);
      if (tr.dataset.state === "new") {
        waiting++;
        if (waited > limit) { overdue++; tr.classList.add("overdue"); }
      } else tr.classList.remove("overdue", "urgent");
      const esc = tr.querySelector(".escalate");
      if (esc && tr.dataset.escalate) esc.textContent = mmss(Number(tr.dataset.escalate) - now);
    });
    const set = (id, v) => { const el = document.getElementById(id); if (el) el.textContent = v; };
    set("count-open", open); set("count-waiting", waiting); set("count-overdue", overdue);
    if (document.getElementById("queue")) {
      document.title = (waiting ? "(" + waiting + ") " : "") + document.title.replace(/^\(\d+\) /, "");
      const empty = document.getElementById("queue-empty");
      if (empty) empty.hidden = open > 0;
    }
    document.querySelectorAll("#card .waited").forEach((el) => {
      const stop = el.dataset.stop ? Number(el.dataset.stop) : now;
      el.textContent = mmss(stop - Number(el.dataset.created));
    });
    document.querySelectorAll("#card .escalate").forEach((el) => {
      el.textContent = mmss(Number(el.dataset.escalate) - now);
    });
  }

  // -- sound cue (browsers allow audio only after the operator switched it on) -------------
  let audio = null;
  function beep() {
    if (!audio) return;
    const t = audio.currentTime;
    [0, 0.35].forEach((d) => {
      const o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = 880; o.connect(g); g.connect(audio.destination);
      g.gain.setValueAtTime(0.25, t + d); g.gain.exponentialRampToValueAtTime(0.001, t + d + 0.3);
      o.start(t + d); o.stop(t + d + 0.3);
    });
  }
  function soundToggle() {
    const btn = document.getElementById("sound-toggle");
    if (!btn) return;
    const apply = (on) => {
      btn.setAttribute("aria-pressed", on ? "true" : "false");
      btn.textContent = on ? btn.dataset.on : btn.dataset.off;
      localStorage.setItem("yiyang-sound", on ? "1" : "0");
    };
    btn.addEventListener("click", () => {
      const on = btn.getAttribute("aria-pressed") !== "true";
      if (on && !audio) audio = new (window.AudioContext || window.webkitAudioContext)();
      if (!on) audio = null;
      apply(on);
    });
    if (localStorage.getItem("yiyang-sound") === "1") {
      // Re-arm on the first key or click: browsers need a gesture before playing audio.
      const arm = () => { audio = audio || new (window.AudioContext || window.webkitAudioContext)(); apply(true); };
      document.addEventListener("pointerdown", arm, { once: true });
      document.addEventListener("keydown", arm, { once: true });
    }
  }

  // -- the live queue ------------------------------------------------------------------------
  function place(tbody, tr) {
    const rank = Number(tr.dataset.rank), created = Number(tr.dataset.created);
    for (const other of tbody.children) {
      if (other === tr) continue;
      const r = Number(other.dataset.rank), c = Number(other.dataset.created);
      if (r > rank || (r === rank && c > created)) { tbody.insertBefore(tr, other); return; }
    }
    tbody.appendChild(tr);
  }
  function upsert(tbody, data) {
    const tpl = document.createElement("template");
    tpl.innerHTML = data.html.trim();
    const tr = tpl.content.firstElementChild;
    const old = document.getElementById(tr.id);
    const focused = old && old === document.activeElement;
    if (old) old.remove();
    place(tbody, tr);
    if (focused) tr.focus();
    if (!old && data.severity === "critical" && data.state === "new") {
      tr.classList.add("arrived");
      beep();
    }
    window.yiyangConsole.received.push({ id: data.id, sent: data.sent, at: Date.now() / 1000 });
  }
  async function resync(box, tbody) {
    const r = await fetch(box.dataset.queue, { headers: { "HX-Request": "true" } });
    if (r.ok) tbody.innerHTML = await r.text();
    tick();
  }
  function live() {
    const box = document.getElementById("console");
    const tbody = document.getElementById("queue");
    if (!box || !tbody) return;
    const state = document.getElementById("live-state");
    let opened = false;
    const es = new EventSource(box.dataset.stream);
    es.addEventListener("hello", (e) => {
      skew = JSON.parse(e.data).server_time - Date.now() / 1000;
      if (opened) resync(box, tbody); // reconnected: fetch what we missed, once
      opened = true;
      state.textContent = state.dataset.on; state.classList.add("on");
      box.dataset.live = "1";
    });
    es.addEventListener("row", (e) => { upsert(tbody, JSON.parse(e.data)); tick(); });
    es.addEventListener("remove", (e) => {
      const tr = document.getElementById("alert-" + JSON.parse(e.data).id);
      if (tr) tr.remove();
      tick();
    });
    es.addEventListener("resync", () => resync(box, tbody));
    es.onerror = () => { state.textContent = state.dataset.off; state.classList.remove("on"); box.dataset.live = "0"; };
    // Keyboard: arrows move between alerts, Enter opens one.
    tbody.addEventListener("keydown", (e) => {
      const tr = e.target.closest("tr.qrow");
      if (!tr) return;
      if (e.key === "ArrowDown" && tr.nextElementSibling) { tr.nextElementSibling.focus(); e.preventDefault(); }
      if (e.key === "ArrowUp" && tr.previousElementSibling) { tr.previousElementSibling.focus(); e.preventDefault(); }
      if (e.key === "Enter") window.location.href = tr.dataset.href;
    });
    tbody.addEventListener("click", (e) => {
      const tr = e.target.closest("tr.qrow");
      if (tr && !e.target.closest("a")) window.location.href = tr.dataset.href;
    });
  }

  // -- the map on the card -------------------------------------------------------------------
  // Leaflet puts a string tooltip or attribution in with innerHTML. Names, place names and the
  // track label are data (an elder's name is whatever was typed into the registry), so the map
  // only ever gets them as text: a tooltip is an element built with textContent, and the
  // attribution (a string option) is escaped.
  const textNode = (value) => {
    const span = document.createElement("span");
    span.textContent = value == null ? "" : String(value);
    return span;
  };
  const escapeHtml = (value) => textNode(value).innerHTML;
  function map() {
    const el = document.getElementById("map");
    if (!el || !window.L || !el.dataset.lat) return;
    const home = [Number(el.dataset.lat), Number(el.dataset.lon)];
    const m = L.map(el, { attributionControl: !!el.dataset.tiles }).setView(home, 15);
    if (el.dataset.tiles) L.tileLayer(el.dataset.tiles, { maxZoom: 19, attribution: escapeHtml(el.dataset.attribution) }).addTo(m);
    else el.classList.add("no-tiles"); // offline: markers and the track on a plain background
    const dot = (ll, color, r) => L.circleMarker(ll, { radius: r, color, fillColor: color, fillOpacity: 0.85, weight: 2 });
    dot(home, "#b42318", 9).addTo(m).bindTooltip(textNode(el.dataset.name), { permanent: true, direction: "top" });
    const bounds = [home];
    JSON.parse(el.dataset.places || "[]").forEach((p) => {
      dot([p.lat, p.lon], p.kind === "hospital" ? "#1570ef" : "#039855", 7).addTo(m).bindTooltip(textNode(p.name));
      bounds.push([p.lat, p.lon]);
    });
    const track = JSON.parse(el.dataset.track || "[]");
    if (track.length) {
      const line = track.map((p) => [p[0], p[1]]);
      L.polyline(line, { color: "#7a2e0e", weight: 3 }).addTo(m);
      dot(line[line.length - 1], "#7a2e0e", 6).addTo(m).bindTooltip(textNode(track[track.length - 1][2]), { permanent: true });
      bounds.push(...line);
    }
    m.fitBounds(bounds, { padding: [20, 20], maxZoom: 16 });
    L.control.scale({ imperial: false }).addTo(m);
  }

  window.yiyangConsole = { received: [] };
  document.addEventListener("DOMContentLoaded", () => {
    soundToggle(); live(); map(); tick();
    setInterval(tick, 1000);
    // On the card, the next thing to do has the focus: claim, else the call form.
    const claim = document.getElementById("claim");
    if (claim) claim.focus();
  });
})();

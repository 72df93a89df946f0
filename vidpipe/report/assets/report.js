// vidpipe report: builds each video's player, overlay and plots from the JSON in #report-data.
// window.vidpipeReport.videos[i] is each section's handle (seek, class toggles, score floor),
// what the page's own controls call and what its browser tests drive.
"use strict";
(() => {
  const DATA = JSON.parse(document.getElementById("report-data").textContent);
  const PALETTE = DATA.palette;
  const api = { videos: [], ready: false };
  window.vidpipeReport = api;

  const rgb = (c, alpha = 1) => {
    const [r, g, b] = PALETTE[((c % PALETTE.length) + PALETTE.length) % PALETTE.length];
    return `rgba(${r},${g},${b},${alpha})`;
  };
  const seconds = (t) => (t === null ? "-" : `${t.toFixed(3)} s`);
  const el = (tag, attrs = {}, text = null) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== null) node.textContent = text;
    return node;
  };
  const PLOT = { displaylogo: false, responsive: true };
  const TRAIL = 30; // centres of a track's trail

  // Rows of frames with a time, in time order, for "which frame is shown at t".
  function timeIndex(times) {
    const rows = [];
    times.forEach((t, row) => { if (t !== null) rows.push(row); });
    rows.sort((a, b) => times[a] - times[b]);
    return { rows, t: rows.map((row) => times[row]) };
  }

  // The row of the frame shown at time t: the last one starting at or before it.
  function rowAt(index, t) {
    let lo = 0, hi = index.t.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (index.t[mid] <= t + 1e-4) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found < 0 ? -1 : index.rows[found];
  }

  function setup(section, v, vi) {
    const b = v.boxes;
    const frames = v.frames.length;
    const start = new Int32Array(frames + 1); // box rows of frame r: start[r] .. start[r + 1]
    for (const f of b.f) start[f + 1] += 1;
    for (let r = 0; r < frames; r++) start[r + 1] += start[r];
    const byTime = timeIndex(v.frames);
    const state = { hidden: new Set(), minScore: 0, row: -1, drawn: 0, mediaTime: null };
    let trails = null; // track id -> [[row, cx, cy], ...] in row order, made when first drawn
    const trailOf = (k) => {
      if (trails === null) {
        trails = new Map();
        b.k.forEach((id, i) => {
          if (id < 0) return;
          if (!trails.has(id)) trails.set(id, []);
          trails.get(id).push([b.f[i], (b.x1[i] + b.x2[i]) / 2, (b.y1[i] + b.y2[i]) / 2]);
        });
      }
      return trails.get(k);
    };
    const handle = {
      frames: v.frames, state, rowAt: (t) => rowAt(byTime, t),
      hideClass(c, hidden) { hidden ? state.hidden.add(c) : state.hidden.delete(c); redraw(); },
      setMinScore(s) { state.minScore = s; redraw(); },
      seek: null, video: null, canvas: null,
    };
    api.videos[vi] = handle;

    const block = section.querySelector(".player-block");
    let video = null, canvas = null;
    if (v.src) {
      const player = el("div", { class: "player" });
      video = el("video", { controls: "", preload: "auto", muted: "", src: v.src });
      canvas = el("canvas", { class: "overlay", id: `overlay-${vi}` });
      player.append(video, canvas);
      block.append(player);
      video.addEventListener("error", () => {
        block.prepend(el("p", { class: "problem", role: "alert" },
          `The browser could not play ${v.src}: the boxes are in the plots and thumbnails.`));
      });
    } else {
      block.append(el("p", { class: "note" },
        `No player: ${v.why_not}. The boxes are in the plots and thumbnails below.`));
    }
    handle.video = video;
    handle.canvas = canvas;
    block.append(controls(v, handle));

    function draw(row) {
      state.row = row;
      if (!canvas || !video.videoWidth) return;
      const w = video.clientWidth, h = video.clientHeight;
      if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
      const ctx = canvas.getContext("2d");
      ctx.clearRect(0, 0, w, h);
      state.drawn = 0;
      if (row < 0) return;
      const sx = w / video.videoWidth, sy = h / video.videoHeight;
      ctx.lineWidth = 2;
      ctx.font = "12px sans-serif";
      ctx.textBaseline = "bottom";
      for (let i = start[row]; i < start[row + 1]; i++) {
        const c = b.c[i];
        if (state.hidden.has(c) || b.s[i] < state.minScore) continue;
        const x = b.x1[i] * sx, y = b.y1[i] * sy;
        const bw = (b.x2[i] - b.x1[i]) * sx, bh = (b.y2[i] - b.y1[i]) * sy;
        ctx.strokeStyle = rgb(c);
        ctx.strokeRect(x, y, bw, bh);
        const label = `${b.k[i] >= 0 ? `#${b.k[i]} ` : ""}${v.names[c] ?? c} ${b.s[i].toFixed(2)}`;
        const tw = ctx.measureText(label).width + 6;
        ctx.fillStyle = rgb(c);
        ctx.fillRect(x - 1, Math.max(y - 15, 0), tw, 15);
        ctx.fillStyle = "#000";
        ctx.fillText(label, x + 2, Math.max(y - 15, 0) + 14);
        if (b.k[i] >= 0) drawTrail(ctx, trailOf(b.k[i]), row, sx, sy, c);
        state.drawn += 1;
      }
    }

    function drawTrail(ctx, points, row, sx, sy, c) {
      let hi = 0;
      while (hi < points.length && points[hi][0] <= row) hi += 1;
      const path = points.slice(Math.max(0, hi - TRAIL), hi);
      if (path.length < 2) return;
      ctx.strokeStyle = rgb(c, 0.8);
      ctx.beginPath();
      path.forEach(([, x, y], j) => (j ? ctx.lineTo(x * sx, y * sy) : ctx.moveTo(x * sx, y * sy)));
      ctx.stroke();
    }

    function redraw() { draw(state.row); }

    // The overlay follows the frame the browser presents (its media time is that frame's
    // timestamp, VFR or not); a seek resolves with the row drawn once the frame is shown.
    let pending = null;
    if (video) {
      const onFrame = (_now, meta) => {
        state.mediaTime = meta.mediaTime;
        draw(rowAt(byTime, meta.mediaTime));
        if (pending) { const resolve = pending; pending = null; resolve(state.row); }
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
      video.addEventListener("seeked", () => draw(rowAt(byTime, video.currentTime)));
      video.addEventListener("loadeddata", () => draw(rowAt(byTime, video.currentTime)));
      window.addEventListener("resize", redraw);
    }
    // Seek to time t (the stream's presentation time); resolves with the row drawn once the
    // browser shows the frame (or, if it shows none within 10 s, the row of t).
    handle.seek = (t) => new Promise((resolve) => {
      if (!video) { resolve(-1); return; }
      video.pause();
      pending = resolve;
      video.currentTime = t + 1e-4;
      setTimeout(() => {
        if (pending !== resolve) return;
        pending = null;
        draw(rowAt(byTime, t));
        resolve(state.row);
      }, 10000);
    });

    plots(section, v, handle);
    thumbs(section, v, handle);
  }

  function controls(v, handle) {
    const box = el("div", { class: "controls" });
    for (const [c, name] of Object.entries(v.names)) {
      const label = el("label");
      const check = el("input", { type: "checkbox", "data-class": c });
      check.checked = true;
      check.addEventListener("change", () => handle.hideClass(Number(c), !check.checked));
      const swatch = el("span", { class: "swatch" });
      swatch.style.background = rgb(Number(c));
      label.append(check, swatch, document.createTextNode(name));
      box.append(label);
    }
    const score = el("label", {}, "score ≥ ");
    const slider = el("input", { type: "range", min: "0", max: "1", step: "0.01", value: "0",
                                 class: "score" });
    const shown = el("output", {}, "0.00");
    slider.addEventListener("input", () => {
      shown.textContent = Number(slider.value).toFixed(2);
      handle.setMinScore(Number(slider.value));
    });
    score.append(slider, shown);
    box.append(score);
    return box;
  }

  function plots(section, v, handle) {
    const seekOnClick = (div) => div.on("plotly_click", (e) => {
      const point = e.points[0];
      const t = point.customdata ?? point.x;
      if (typeof t === "number") handle.seek(t);
    });
    const classes = Object.keys(v.names).map(Number);
    const timeline = section.querySelector(".timeline");
    if (!classes.length) {
      for (const div of section.querySelectorAll(".timeline, .counts, .tracks")) {
        div.replaceChildren(el("p", { class: "note" }, "Nothing was detected in this run."));
      }
      return;
    }
    const bars = classes.map((c) => {
      const mine = v.timeline.filter((i) => i.c === c);
      return {
        type: "bar", orientation: "h", name: v.names[c], marker: { color: rgb(c) },
        y: mine.map(() => v.names[c]), base: mine.map((i) => i.start),
        x: mine.map((i) => Math.max(i.until - i.start, 0.001)),
        customdata: mine.map((i) => i.start),
        hovertext: mine.map((i) => `${v.names[c]}: ${seconds(i.start)} to ${seconds(i.until)}`
          + (i.n > 1 ? ` (${i.n} intervals)` : "")
          + `, best ${i.best_score.toFixed(2)} (frame ${i.best_frame}), up to ${i.max_count}`),
        hoverinfo: "text",
      };
    });
    const height = 60 + 26 * classes.length;
    Plotly.newPlot(timeline, bars, {
      barmode: "overlay", height, margin: { l: 90, r: 10, t: 10, b: 30 }, showlegend: false,
      xaxis: { title: "seconds" },
    }, PLOT).then(seekOnClick);
    const counts = section.querySelector(".counts");
    Plotly.newPlot(counts, classes.map((c) => ({
      type: "scatter", mode: "lines", name: v.names[c], line: { color: rgb(c), shape: "hv" },
      x: v.counts[String(c)].x, y: v.counts[String(c)].y,
    })), { height: 260, margin: { l: 40, r: 10, t: 10, b: 30 }, xaxis: { title: "seconds" } },
    PLOT).then(seekOnClick);
    if (v.tracks) {
      Plotly.newPlot(section.querySelector(".tracks"), [{
        type: "scatter", mode: "lines", name: "tracks", line: { shape: "hv" },
        x: v.tracks.x, y: v.tracks.y,
      }], { height: 220, margin: { l: 40, r: 10, t: 10, b: 30 } }, PLOT)
        .then(seekOnClick);
    }
    if (v.events) {
      const traces = [];
      for (const [group, items] of [["line", v.events.lines], ["zone", v.events.zones]]) {
        for (const [name, ways] of Object.entries(items)) {
          for (const [way, s] of Object.entries(ways)) {
            traces.push({ type: "scatter", mode: "lines", line: { shape: "hv" },
                          name: `${group} ${name}: ${way}`, x: [0, ...s.x], y: [0, ...s.y] });
          }
        }
      }
      Plotly.newPlot(section.querySelector(".events"), traces, {
        height: 260, margin: { l: 40, r: 10, t: 10, b: 30 }, xaxis: { title: "seconds" },
        yaxis: { title: "running total" },
      }, PLOT).then(seekOnClick);
      const zones = Object.keys(v.events.inside);
      if (zones.length) {
        Plotly.newPlot(section.querySelector(".zones"), [
          ...zones.map((name) => ({
            type: "scatter", mode: "lines", line: { shape: "hv" }, name: `${name}: inside`,
            x: [0, ...v.events.inside[name].x], y: [0, ...v.events.inside[name].y],
          })),
          ...zones.map((name) => ({
            type: "box", name: `${name}: dwell`, x: v.events.dwell[name] ?? [], xaxis: "x2",
            yaxis: "y2", boxpoints: "all",
          })),
        ], {
          height: 320, margin: { l: 90, r: 10, t: 10, b: 30 }, grid: { rows: 2, columns: 1 },
          xaxis: { title: "seconds" }, yaxis: { title: "inside" },
          xaxis2: { title: "dwell, seconds" },
        }, PLOT).then(seekOnClick);
      } else {
        section.querySelector(".zones").remove();
      }
    }
  }

  function thumbs(section, v, handle) {
    const box = section.querySelector(".thumbs");
    const wanted = v.thumbs;
    if (!wanted.length) {
      box.append(el("p", { class: "note" }, "No thumbnails (no video to take them from)."));
      return;
    }
    for (const i of wanted) {
      const figure = el("figure", { "data-frame": String(i.best_frame) });
      figure.append(el("img", { src: i.thumb, alt: `${i.label}, frame ${i.best_frame}` }));
      figure.append(el("figcaption", {},
        `${i.label} ${i.best_score.toFixed(2)} — ${seconds(i.start)} to ${seconds(i.until)}`));
      figure.addEventListener("click", () => {
        const t = bestTime(v, i.best_frame);
        if (t !== null) handle.seek(t);
      });
      box.append(figure);
    }
  }

  function bestTime(v, index) {
    // The frame's time from its display index (rows are in display order).
    let lo = 0, hi = v.frames.length - 1;
    const idx = v.frame_index;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (idx[mid] === index) return v.frames[mid];
      if (idx[mid] < index) lo = mid + 1; else hi = mid - 1;
    }
    return null;
  }

  // A batch's jobs table: sortable by a click on a heading, filtered by text and status;
  // each row with a section opens it.
  function jobsTable(jobs) {
    const body = document.querySelector("table.jobs tbody");
    const filter = document.querySelector(".job-filter");
    const status = document.querySelector(".job-status");
    const count = document.querySelector(".job-count");
    let order = { key: "input", down: false };
    const cell = (value) => el("td", {}, value === null || value === undefined ? "" : String(value));
    function render() {
      const text = filter.value.trim().toLowerCase();
      const shown = jobs.filter((j) => (!status.value || j.status === status.value)
        && (!text || [j.input, j.task, j.error ?? ""].some((f) => f.toLowerCase().includes(text))));
      const numeric = document.querySelector(`th[data-key="${order.key}"]`).hasAttribute("data-numeric");
      shown.sort((a, b) => {
        const x = a[order.key], y = b[order.key];
        const cmp = numeric ? (x ?? -Infinity) - (y ?? -Infinity) : String(x ?? "").localeCompare(String(y ?? ""));
        return order.down ? -cmp : cmp;
      });
      body.replaceChildren(...shown.map((j) => {
        const row = el("tr", { class: `job ${j.status}` });
        const name = el("td");
        if (j.section !== null) {
          const link = el("a", { href: `#video-${j.section}` }, j.input);
          link.addEventListener("click", () => api.open(j.section));
          name.append(link);
        } else name.textContent = j.input;
        row.append(name, cell(j.task), cell(j.status), cell(j.error), cell(j.seconds),
                   cell(j.frames), cell(j.fps));
        return row;
      }));
      count.textContent = `${shown.length} of ${jobs.length} jobs`;
    }
    document.querySelectorAll("table.jobs th").forEach((th) => th.addEventListener("click", () => {
      order = { key: th.dataset.key, down: order.key === th.dataset.key ? !order.down : false };
      render();
    }));
    filter.addEventListener("input", render);
    status.addEventListener("change", render);
    render();
  }

  function totalsTable(totals) {
    const body = document.querySelector("table.totals tbody");
    body.replaceChildren(...totals.map((t) => {
      const row = el("tr");
      for (const value of [t.label, t.videos, t.frames, t.boxes]) row.append(el("td", {}, String(value)));
      return row;
    }));
  }

  // Each section's data is read, and its player and plots made, when it is first opened.
  const starters = [];
  document.querySelectorAll("details.video").forEach((section) => {
    const vi = Number(section.dataset.index);
    const start = () => {
      if (api.videos[vi]) return;
      const v = JSON.parse(document.getElementById(`video-data-${vi}`).textContent);
      try {
        setup(section, v, vi);
      } catch (err) {
        section.prepend(el("p", { class: "problem", role: "alert" }, `This section failed: ${err}`));
        throw err;
      }
    };
    starters[vi] = start;
    if (section.open) start();
    else section.addEventListener("toggle", () => { if (section.open) start(); });
  });
  api.open = (vi) => {
    const section = document.getElementById(`video-${vi}`);
    section.open = true;
    starters[vi]();
    return api.videos[vi];
  };
  if (DATA.jobs) {
    jobsTable(DATA.jobs);
    totalsTable(DATA.totals);
  }
  api.ready = true;
})();

/* SIGReg visual story: drawing and interaction only.
 *
 * Every statistic and readout comes from window.STORY_DATA (data.js, written by
 * make_data.py with the sigreg library). This file rotates, projects and bins
 * points for display; the only statistic it derives is the SIGReg of the hero,
 * which is by definition the mean of the slice scores shown.
 */
(function () {
  "use strict";

  const D = window.STORY_DATA;
  if (!D) {
    document.body.insertAdjacentHTML(
      "afterbegin",
      '<p class="wrap" style="color:#d0453a">data.js is missing: run <code>python docs/story/make_data.py</code>.</p>'
    );
    return;
  }

  const BLUE = "#2f6fdb";
  const CORAL = "#f0694f";
  const INK = "#1d2433";
  const MUTED = "#667085";
  const GRID = "#e3e7ef";
  // slice colours avoid blue (the target) and coral (the points)
  const SLICE_COLORS = ["#7c5cd6", "#12a39a", "#e0a21b", "#d6457f", "#3a9e4f", "#a0612b", "#5d6b82", "#9a9a1f"];
  const CAMERA = 9; // distance of the eye, in data units: a mild perspective
  const REDUCED_MOTION = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  // ---- small helpers -----------------------------------------------------------------

  const $ = (selector, root = document) => root.querySelector(selector);
  const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  const scale = (a, s) => [a[0] * s, a[1] * s, a[2] * s];
  const add = (a, b) => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
  const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
  const gaussian = (x) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
  const sliceColor = (k) => SLICE_COLORS[k % SLICE_COLORS.length];

  function rgba(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  function normalize(v) {
    const n = Math.hypot(v[0], v[1], v[2]);
    return scale(v, 1 / n);
  }

  /** Text rounded for the eye, data-value at full precision for anyone who checks. */
  function setReadout(el, value, decimals) {
    el.dataset.value = String(value);
    el.textContent = value.toFixed(decimals);
  }

  /** A compact human format for table cells (the exact value goes in data-value). */
  function formatNumber(v) {
    const a = Math.abs(v);
    if (a !== 0 && a < 1e-3) return v.toExponential(2);
    if (a >= 100) return v.toFixed(1);
    return v.toFixed(4);
  }

  // Every label drawn on a canvas, with its box in the canvas's CSS pixels, since its last
  // clear: window.storyLabels() lists them, so that the browser test can check that no two
  // labels overlap and none crosses its canvas's edge (a canvas has no DOM boxes to measure).
  const LABELS = new Map();
  const drawText = CanvasRenderingContext2D.prototype.fillText;
  CanvasRenderingContext2D.prototype.fillText = function (text, x, y, ...rest) {
    const m = this.measureText(text);
    const t = this.getTransform();
    const dpr = window.devicePixelRatio || 1;
    const corners = [
      [x - m.actualBoundingBoxLeft, y - m.actualBoundingBoxAscent],
      [x + m.actualBoundingBoxRight, y + m.actualBoundingBoxDescent],
    ].map(([px, py]) => [(t.a * px + t.c * py + t.e) / dpr, (t.b * px + t.d * py + t.f) / dpr]);
    const xs = corners.map((c) => c[0]);
    const ys = corners.map((c) => c[1]);
    const box = { text: String(text), left: Math.min(...xs), top: Math.min(...ys), right: Math.max(...xs), bottom: Math.max(...ys) };
    if (!LABELS.has(this.canvas)) LABELS.set(this.canvas, []);
    LABELS.get(this.canvas).push(box);
    return drawText.call(this, text, x, y, ...rest);
  };
  // Marks: what a label must not cover (the points and arrows of the 3-D views), as boxes in CSS
  // pixels since the canvas's last clear; window.storyLabels() lists them with the labels.
  const MARKS = new Map();
  function mark(canvas, x, y, r) {
    if (!MARKS.has(canvas)) MARKS.set(canvas, []);
    MARKS.get(canvas).push({ left: x - r, top: y - r, right: x + r, bottom: y + r });
  }
  window.storyLabels = () =>
    [...LABELS].map(([canvas, labels]) => ({
      canvas: canvas.id || canvas.getAttribute("aria-label") || canvas.className,
      width: canvas.clientWidth,
      height: canvas.clientHeight,
      labels,
      marks: MARKS.get(canvas) || [],
    }));

  /** Draw a label near (x, y), inside its canvas and off the labels and marks already on it: moved
   *  down or up a line at a time, then, if need be, step by step away from the canvas's centre
   *  (the principal axes of a line all but meet at its centre, on top of its points), with a thin
   *  leader back to (x, y) when it ends up far from it. */
  function placeLabel(ctx, text, x, y) {
    const m = ctx.measureText(text);
    const width = m.actualBoundingBoxLeft + m.actualBoundingBoxRight;
    const left = m.actualBoundingBoxLeft;
    const right = m.actualBoundingBoxRight;
    const up = m.actualBoundingBoxAscent;
    const down = m.actualBoundingBoxDescent;
    const w = ctx.canvas.clientWidth;
    const h = ctx.canvas.clientHeight;
    const taken = [...(LABELS.get(ctx.canvas) || []), ...(MARKS.get(ctx.canvas) || [])];
    const fits = ([px, py]) =>
      taken.every(
        (b) =>
          px - left >= b.right + 2 ||
          px + right <= b.left - 2 ||
          py - up >= b.bottom + 2 ||
          py + down <= b.top - 2
      );
    const inside = ([px, py]) => [clamp(px, left + 2, w - right - 2), clamp(py, up + 2, h - down - 2)];
    const line = up + down + 4;
    const candidates = [];
    const away = Math.atan2(y - h / 2, x - w / 2);
    for (let r = 0; r < Math.max(w, h); r += 8) {
      const cx = x + r * Math.cos(away);
      const cy = y + r * Math.sin(away);
      for (let i = 0; i < (r === 0 ? 12 : 5); i++) {
        candidates.push(inside([cx, cy + Math.ceil(i / 2) * line * (i % 2 ? 1 : -1)]));
      }
    }
    const spot = candidates.find(fits) || inside([x, y]);
    if (Math.hypot(spot[0] - x, spot[1] - y) > 2 * line) {
      ctx.save();
      ctx.strokeStyle = ctx.fillStyle;
      ctx.globalAlpha = 0.5;
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(x, y);
      ctx.lineTo(clamp(x, spot[0] - left, spot[0] + right), clamp(y, spot[1] - up, spot[1] + down));
      ctx.stroke();
      ctx.restore();
    }
    ctx.fillText(text, spot[0], spot[1]);
    return width;
  }

  /** Size a canvas's backing store to its CSS box (crisp on HiDPI) and clear it. */
  function fitCanvas(canvas) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const h = canvas.clientHeight;
    const bw = Math.max(1, Math.round(w * dpr));
    const bh = Math.max(1, Math.round(h * dpr));
    if (canvas.width !== bw || canvas.height !== bh) {
      canvas.width = bw;
      canvas.height = bh;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    LABELS.set(canvas, []);
    MARKS.set(canvas, []);
    return { ctx, w, h };
  }

  const redrawers = []; // everything to repaint when the window changes size
  window.addEventListener("resize", () => redrawers.forEach((f) => f()));

  // ---- a tiny 3-D view: yaw/pitch orbit, mild perspective, drag to rotate --------------

  const views = [];

  class View3D {
    constructor(canvas, render, options = {}) {
      this.canvas = canvas;
      this.render = render;
      this.extent = options.extent || 3.2; // data radius that must fit in the canvas
      this.yaw = options.yaw ?? 0.65;
      this.pitch = options.pitch ?? 0.38;
      this.spin = REDUCED_MOTION ? 0 : options.spin ?? 0.0022;
      this.onClick = options.onClick || null;
      this.visible = true;
      this.drag = null;
      canvas.addEventListener("pointerdown", (e) => this.pointerDown(e));
      canvas.addEventListener("pointermove", (e) => this.pointerMove(e));
      canvas.addEventListener("pointerup", (e) => this.pointerUp(e));
      canvas.addEventListener("pointercancel", () => (this.drag = null));
      views.push(this);
      redrawers.push(() => this.draw());
    }

    pointerDown(e) {
      this.drag = { x: e.clientX, y: e.clientY, yaw: this.yaw, pitch: this.pitch, moved: false };
      this.canvas.setPointerCapture(e.pointerId);
      this.spin = 0; // the visitor has taken over
    }

    pointerMove(e) {
      const d = this.drag;
      if (!d) return;
      const dx = e.clientX - d.x;
      const dy = e.clientY - d.y;
      if (Math.hypot(dx, dy) > 4) d.moved = true;
      if (!d.moved) return;
      this.yaw = d.yaw + dx * 0.01;
      this.pitch = clamp(d.pitch + dy * 0.01, -1.35, 1.35);
      this.draw();
    }

    pointerUp() {
      const d = this.drag;
      this.drag = null;
      // A press without drag is a click: the hero uses it to add a slice.
      if (d && !d.moved && this.onClick) this.onClick();
    }

    /** Screen position [x, y], depth (positive = behind the origin) and perspective factor. */
    project(p) {
      const cy = Math.cos(this.yaw);
      const sy = Math.sin(this.yaw);
      const cp = Math.cos(this.pitch);
      const sp = Math.sin(this.pitch);
      const x1 = cy * p[0] - sy * p[1];
      const y1 = sy * p[0] + cy * p[1];
      const up = p[2] * cp + y1 * sp; // the eye sits above the scene, looking down by `pitch`
      const depth = y1 * cp - p[2] * sp;
      const f = CAMERA / (CAMERA + depth);
      return [this.cx + this.unit * f * x1, this.cy - this.unit * f * up, depth, f];
    }

    draw() {
      const { ctx, w, h } = fitCanvas(this.canvas);
      this.cx = w / 2;
      this.cy = h / 2;
      this.unit = Math.min(w, h) / (2 * this.extent);
      this.labels = []; // placed last, when every point and arrow is marked
      this.render(ctx, this);
      for (const { text, x, y, color } of this.labels) {
        ctx.font = "600 12px system-ui, sans-serif";
        ctx.fillStyle = color;
        placeLabel(ctx, text, x, y);
      }
    }
  }

  // For the browser test: every 3-D view turned to one yaw, spin stopped, and drawn, so that its
  // labels can be checked at many angles (a spinning view shows them all).
  window.storyTurnViews = (yaw) =>
    views.forEach((v) => {
      v.yaw = yaw;
      v.spin = 0;
      v.draw();
    });

  // One animation loop for all views that spin; views off screen are skipped.
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const view = views.find((v) => v.canvas === entry.target);
      if (view) view.visible = entry.isIntersecting;
    }
  });

  function animate() {
    for (const view of views) {
      if (view.spin && view.visible && !view.drag) {
        view.yaw += view.spin;
        view.draw();
      }
    }
    window.requestAnimationFrame(animate);
  }

  /**
   * The data radius a view must show so that every point of `clouds` stays inside its
   * canvas at any rotation: a point at distance r from the origin is drawn at most
   * max over depth d of sqrt(r² − d²) · CAMERA / (CAMERA + d) from the centre.
   */
  function extentFor(clouds, least) {
    let r = 0;
    for (const points of clouds) for (const p of points) r = Math.max(r, Math.hypot(p[0], p[1], p[2]));
    let reach = 0;
    for (let i = 0; i <= 64; i++) {
      const d = (-r * i) / 64;
      reach = Math.max(reach, (Math.sqrt(r * r - d * d) * CAMERA) / (CAMERA + d));
    }
    return Math.max(least, 1.04 * reach + 0.08);
  }

  // ---- scene pieces: the target sphere, points, polylines ------------------------------

  const sphereCircles = new Map(); // radius -> list of 3-D polylines (latitudes and meridians)

  function circlesOf(r) {
    if (sphereCircles.has(r)) return sphereCircles.get(r);
    const circles = [];
    const steps = 64;
    for (const lat of [-60, -30, 0, 30, 60]) {
      const z = r * Math.sin((lat * Math.PI) / 180);
      const rr = r * Math.cos((lat * Math.PI) / 180);
      const c = [];
      for (let i = 0; i <= steps; i++) {
        const a = (2 * Math.PI * i) / steps;
        c.push([rr * Math.cos(a), rr * Math.sin(a), z]);
      }
      circles.push(c);
    }
    for (let m = 0; m < 6; m++) {
      const lon = (m * Math.PI) / 6;
      const c = [];
      for (let i = 0; i <= steps; i++) {
        const a = (2 * Math.PI * i) / steps;
        c.push([r * Math.cos(a) * Math.cos(lon), r * Math.cos(a) * Math.sin(lon), r * Math.sin(a)]);
      }
      circles.push(c);
    }
    sphereCircles.set(r, circles);
    return circles;
  }

  /** Target Q: a shaded 1-sigma ball and a 2-sigma wireframe, back half before the points. */
  function drawSphere(ctx, view, pass, r = 2, strength = 1) {
    const c = view.project([0, 0, 0]);
    if (pass === "back") {
      for (const [radius, alpha] of [
        [r, 0.1],
        [r / 2, 0.16],
      ]) {
        const R = view.unit * c[3] * radius;
        const g = ctx.createRadialGradient(c[0] - R * 0.35, c[1] - R * 0.4, R * 0.05, c[0], c[1], R);
        g.addColorStop(0, rgba(BLUE, 0.02 * strength));
        g.addColorStop(1, rgba(BLUE, alpha * strength));
        ctx.fillStyle = g;
        ctx.beginPath();
        ctx.arc(c[0], c[1], R, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
    ctx.lineWidth = pass === "back" ? 0.8 : 1.1;
    ctx.strokeStyle = rgba(BLUE, (pass === "back" ? 0.16 : 0.42) * strength);
    ctx.beginPath();
    for (const circle of circlesOf(r)) {
      let prev = null;
      for (const p of circle) {
        const q = view.project(p);
        if (prev) {
          const behind = prev[2] + q[2] > 0;
          if (behind === (pass === "back")) {
            ctx.moveTo(prev[0], prev[1]);
            ctx.lineTo(q[0], q[1]);
          }
        }
        prev = q;
      }
    }
    ctx.stroke();
  }

  /** Points far-to-near so that near ones cover far ones; size and opacity cue depth. */
  function drawPoints(ctx, view, points, color, size = 2.6) {
    const projected = points.map((p) => view.project(p));
    projected.sort((a, b) => b[2] - a[2]);
    // how many points fall outside the canvas (the browser test asserts none do)
    const outside = projected.filter((q) => q[0] < 0 || q[1] < 0 || q[0] > 2 * view.cx || q[1] > 2 * view.cy);
    view.canvas.dataset.outside = String(outside.length);
    for (const q of projected) {
      ctx.fillStyle = rgba(color, clamp(0.9 - q[2] * 0.08, 0.35, 0.95));
      ctx.beginPath();
      ctx.arc(q[0], q[1], size * q[3], 0, 2 * Math.PI);
      ctx.fill();
      mark(ctx.canvas, q[0], q[1], size * q[3]);
    }
  }

  function strokePath(ctx, view, points3d, close = false) {
    ctx.beginPath();
    points3d.forEach((p, i) => {
      const q = view.project(p);
      if (i === 0) ctx.moveTo(q[0], q[1]);
      else ctx.lineTo(q[0], q[1]);
    });
    if (close) ctx.closePath();
  }

  function drawArrow(ctx, view, from, to, color, label) {
    const a = view.project(from);
    const b = view.project(to);
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0], b[1]);
    ctx.stroke();
    const angle = Math.atan2(b[1] - a[1], b[0] - a[0]);
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.moveTo(b[0], b[1]);
    ctx.lineTo(b[0] - 9 * Math.cos(angle - 0.4), b[1] - 9 * Math.sin(angle - 0.4));
    ctx.lineTo(b[0] - 9 * Math.cos(angle + 0.4), b[1] - 9 * Math.sin(angle + 0.4));
    ctx.closePath();
    ctx.fill();
    const length = Math.hypot(b[0] - a[0], b[1] - a[1]);
    for (let s = 0; s <= length; s += 3) {
      mark(ctx.canvas, a[0] + s * Math.cos(angle), a[1] + s * Math.sin(angle), 1.5);
    }
    mark(ctx.canvas, b[0] - 5 * Math.cos(angle), b[1] - 5 * Math.sin(angle), 5); // the head
    if (label) {
      view.labels.push({ text: label, x: b[0] + 6 * Math.cos(angle) + 3, y: b[1] + 6 * Math.sin(angle) + 4, color });
    }
  }

  /** A second unit vector b ⟂ a, as vertical as possible: the slice plane is span(a, b). */
  function planeUp(a) {
    const up = Math.abs(a[2]) > 0.95 ? [1, 0, 0] : [0, 0, 1];
    return normalize(add(up, scale(a, -dot(up, a))));
  }

  // ---- 2-D shadow histograms -----------------------------------------------------------

  function histogram(u, lo, hi, bins) {
    const counts = new Array(bins).fill(0);
    const width = (hi - lo) / bins;
    for (const x of u) counts[clamp(Math.floor((x - lo) / width), 0, bins - 1)] += 1;
    return counts.map((c) => c / (u.length * width)); // a density, comparable with N(0, 1)
  }

  /** Histogram of a shadow u against the N(0, 1) density (blue), in a small canvas. */
  function drawShadow(canvas, u, color) {
    const { ctx, w, h } = fitCanvas(canvas);
    const lo = -4;
    const hi = 4;
    const density = histogram(u, lo, hi, 32);
    const top = clamp(Math.max(...density), 0.45, 1.2) * 1.08; // spikes are clipped, the curve stays visible
    const x = (v) => ((v - lo) / (hi - lo)) * w;
    const y = (d) => h - 2 - (Math.min(d, top) / top) * (h - 6);
    ctx.fillStyle = rgba(color, 0.55);
    density.forEach((d, i) => {
      const x0 = x(lo + (i * (hi - lo)) / density.length);
      const x1 = x(lo + ((i + 1) * (hi - lo)) / density.length);
      ctx.fillRect(x0 + 0.5, y(d), x1 - x0 - 1, h - 2 - y(d));
    });
    ctx.strokeStyle = BLUE;
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    for (let i = 0; i <= 80; i++) {
      const v = lo + ((hi - lo) * i) / 80;
      if (i === 0) ctx.moveTo(x(v), y(gaussian(v)));
      else ctx.lineTo(x(v), y(gaussian(v)));
    }
    ctx.stroke();
    ctx.strokeStyle = GRID;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(0, h - 1.5);
    ctx.lineTo(w, h - 1.5);
    ctx.stroke();
  }

  const project1d = (points, a) => points.map((p) => dot(p, a));

  // ---- hero: slice planes and their scores ---------------------------------------------

  function setupHero() {
    const H = D.hero;
    const shown = []; // pool indices of the slices on screen, in order
    const list = $("#slice-list");
    const button = $("#add-slice");
    const value = $("#sigreg-value");
    const shadows = H.directions.map((a) => project1d(H.points, a)); // for drawing only

    function drawSlice(ctx, view, k, newest) {
      const a = H.directions[k];
      const b = planeUp(a);
      const color = sliceColor(k);
      const L = 3.0;
      const corners = [
        [-L, -0.7],
        [L, -0.7],
        [L, 1.7],
        [-L, 1.7],
      ].map(([s, t]) => add(scale(a, s), scale(b, t)));
      strokePath(ctx, view, corners, true);
      ctx.fillStyle = rgba(color, newest ? 0.13 : 0.05);
      ctx.fill();
      ctx.strokeStyle = rgba(color, newest ? 0.55 : 0.22);
      ctx.lineWidth = 1;
      ctx.stroke();
      if (newest) drawPlaneHistogram(ctx, view, shadows[k], a, b, color);
      // the shadows: every point's projection, a tick on the direction axis
      ctx.fillStyle = rgba(color, newest ? 0.75 : 0.35);
      for (const u of shadows[k]) {
        const q = view.project(scale(a, u));
        ctx.fillRect(q[0] - 1.2, q[1] - 1.2, 2.4, 2.4);
      }
      drawArrow(ctx, view, scale(a, -L), scale(a, L), rgba(color, newest ? 0.95 : 0.45), `a${k + 1}`);
    }

    /** The shadow's histogram standing on the slice plane, with N(0, 1) drawn beside it. */
    function drawPlaneHistogram(ctx, view, u, a, b, color) {
      const lo = -3.0;
      const hi = 3.0;
      const density = histogram(u, lo, hi, 15);
      const height = 2.6; // data units per unit density
      const width = (hi - lo) / density.length;
      ctx.fillStyle = rgba(color, 0.28);
      ctx.strokeStyle = rgba(color, 0.6);
      density.forEach((d, i) => {
        if (d === 0) return;
        const x0 = lo + i * width;
        const h = Math.min(d, 0.6) * height;
        const quad = [
          scale(a, x0),
          scale(a, x0 + width),
          add(scale(a, x0 + width), scale(b, h)),
          add(scale(a, x0), scale(b, h)),
        ];
        strokePath(ctx, view, quad, true);
        ctx.fill();
        ctx.stroke();
      });
      const curve = [];
      for (let i = 0; i <= 64; i++) {
        const x = lo + ((hi - lo) * i) / 64;
        curve.push(add(scale(a, x), scale(b, gaussian(x) * height)));
      }
      strokePath(ctx, view, curve);
      ctx.strokeStyle = BLUE;
      ctx.lineWidth = 2;
      ctx.stroke();
    }

    function render(ctx, view) {
      drawSphere(ctx, view, "back");
      shown.forEach((k, i) => drawSlice(ctx, view, k, i === shown.length - 1));
      if (shown.length) {
        // thin lines from the points to their shadows on the newest slice's axis
        const a = H.directions[shown[shown.length - 1]];
        ctx.strokeStyle = "rgba(29, 36, 51, 0.07)";
        ctx.lineWidth = 1;
        ctx.beginPath();
        for (const p of H.points) {
          const q0 = view.project(p);
          const q1 = view.project(scale(a, dot(p, a)));
          ctx.moveTo(q0[0], q0[1]);
          ctx.lineTo(q1[0], q1[1]);
        }
        ctx.stroke();
      }
      drawPoints(ctx, view, H.points, CORAL);
      drawSphere(ctx, view, "front");
    }

    const view = new View3D($("#scene"), render, { onClick: addSlice, extent: extentFor([H.points], 3.4) });

    function card(k) {
      const a = H.directions[k];
      const el = document.createElement("div");
      el.className = "slice-card";
      el.style.setProperty("--slice-color", sliceColor(k));
      el.innerHTML =
        `<div class="slice-head"><span class="slice-name">Slice a${k + 1}</span>` +
        `<span class="slice-dir">a = (${a.map((x) => x.toFixed(2)).join(", ")})</span></div>` +
        `<canvas aria-label="shadow histogram of slice ${k + 1}"></canvas>` +
        `<div class="slice-ep">EP(a${k + 1}) = <span class="slice-score"></span></div>`;
      const score = $(".slice-score", el);
      score.dataset.score = String(H.scores[k]);
      score.textContent = H.scores[k].toFixed(4);
      return el;
    }

    function updateValue() {
      const scores = [...list.querySelectorAll(".slice-score")].map((el) => Number(el.dataset.score));
      const mean = scores.reduce((s, x) => s + x, 0) / scores.length;
      setReadout(value, mean, 4);
      // the library's sigreg(points, directions=A[:, :k]) for the same slices
      value.dataset.library = String(H.sigreg[scores.length - 1]);
      $("#slice-count").textContent = String(scores.length);
    }

    function drawCards() {
      list.querySelectorAll(".slice-card").forEach((el, i) => {
        drawShadow($("canvas", el), shadows[shown[i]], sliceColor(shown[i]));
      });
    }

    function addSlice() {
      if (shown.length >= H.directions.length) return;
      const k = shown.length; // the pool's columns, in order
      shown.push(k);
      list.querySelectorAll(".slice-card.newest").forEach((el) => el.classList.remove("newest"));
      const el = card(k);
      el.classList.add("newest");
      list.appendChild(el);
      drawShadow($("canvas", el), shadows[k], sliceColor(k));
      list.scrollTop = list.scrollHeight;
      updateValue();
      button.disabled = shown.length >= H.directions.length;
      if (button.disabled) button.textContent = "All slices shown";
      view.draw();
    }

    button.addEventListener("click", addSlice);
    redrawers.push(drawCards);
    for (let i = 0; i < H.initial; i++) addSlice();
  }

  // ---- 01: collapse ----------------------------------------------------------------------

  const AXIS_COLORS = [INK, "#7c5cd6", "#12a39a"];

  function spreadBars(container, sd) {
    const biggest = Math.max(1.3, ...sd);
    container.innerHTML = "";
    sd.forEach((s, i) => {
      const silent = s < 0.1;
      const row = document.createElement("div");
      row.className = "spread-row" + (silent ? " silent" : "");
      row.innerHTML =
        `<span>σ<sub>${i + 1}</sub> axis ${i + 1}</span>` +
        `<span class="spread-track"><span class="spread-bar"></span></span>` +
        `<span class="spread-value">${s.toFixed(3)}${silent ? " · silent" : ""}</span>`;
      const bar = $(".spread-bar", row);
      bar.style.display = "block";
      bar.style.width = `${Math.max(1, (100 * s) / biggest)}%`;
      if (!silent) bar.style.background = AXIS_COLORS[i];
      container.appendChild(row);
    });
  }

  function setupCollapse() {
    for (const name of ["line", "cloud"]) {
      const c = D.collapse[name];
      const render = (ctx, view) => {
        drawSphere(ctx, view, "back");
        drawPoints(ctx, view, c.points, CORAL, 2);
        // principal axes, each drawn ±1 standard deviation long: silent ones all but vanish
        c.axes.forEach((axis, i) => {
          const s = Math.max(c.sd[i], 0.02);
          drawArrow(ctx, view, scale(axis, -s), scale(axis, s), AXIS_COLORS[i], `σ${i + 1}`);
        });
        drawSphere(ctx, view, "front");
      };
      new View3D($(`#collapse-${name}`), render, { extent: extentFor([c.points], 2.9), spin: 0.0018 });
      spreadBars($(`.spreads[data-for="${name}"]`), c.sd);
      setReadout($(`.metric[data-metric="${name}"]`), c.sigreg, 4);
    }
  }

  // ---- 02: why Gaussian ------------------------------------------------------------------

  function setupWhy() {
    const W = D.why;
    for (const name of ["bad", "good"]) {
      const c = W[name];
      const box = $(`#why-gaussian .why[data-cloud="${name}"]`);
      const render = (ctx, view) => {
        drawSphere(ctx, view, "back", 2, 0.7);
        drawPoints(ctx, view, c.points, CORAL, 1.7);
        W.directions.forEach((a, k) => drawArrow(ctx, view, [0, 0, 0], scale(a, 2.7), SLICE_COLORS[k], `a${k + 1}`));
        drawSphere(ctx, view, "front", 2, 0.7);
      };
      new View3D($(".view-why", box), render, { extent: extentFor([c.points], 3.0), spin: 0.002 });
      const hists = $(".why-hists", box);
      const shadows = W.directions.map((a) => project1d(c.points, a));
      W.directions.forEach((a, k) => {
        const cell = document.createElement("div");
        cell.className = "why-hist";
        cell.innerHTML =
          `<span style="color:${SLICE_COLORS[k]};font-weight:650">a${k + 1}</span> · EP ` +
          `<span class="ep"></span><canvas aria-label="shadow on a${k + 1}"></canvas>`;
        setReadout($(".ep", cell), c.scores[k], 3);
        hists.appendChild(cell);
      });
      const paint = () =>
        hists.querySelectorAll("canvas").forEach((cv, k) => drawShadow(cv, shadows[k], SLICE_COLORS[k]));
      paint();
      redrawers.push(paint);
      setReadout($(".metric", box), c.sigreg, 4);
    }
  }

  // ---- 03: Epps-Pulley on one shadow --------------------------------------------------------

  function setupEppsPulley() {
    const E = D.ecf;
    const slider = $("#t-slider");
    const circle = $("#unit-circle");
    const plot = $("#ecf-plot");
    $("#ep-source").textContent =
      `u: the ${E.u.length} points of the hero cloud projected on slice a1; ` +
      "every readout above comes from sigreg.";
    setReadout($("#ep-value"), E.ep_paper, 4);
    setReadout($("#ep-default"), E.ep_default, 4);
    setReadout($("#ep-exact"), E.ep_exact, 4);

    /** The library's values at the slider's knot; C(−t) = C(t), S(−t) = −S(t). */
    function at(t) {
      const i = clamp(Math.round(Math.abs(t) / E.dt), 0, E.t.length - 1);
      const sign = t < 0 ? -1 : 1;
      return { t: sign * E.t[i], c: E.cos[i], s: sign * E.sin[i], phi: E.phi[i] };
    }

    function drawCircle(k) {
      const { ctx, w, h } = fitCanvas(circle);
      const R = Math.min(w, h) * 0.4;
      const ox = w / 2;
      const oy = h / 2;
      const X = (x) => ox + R * x;
      const Y = (y) => oy - R * y;
      ctx.strokeStyle = GRID;
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(X(-1.15), oy);
      ctx.lineTo(X(1.15), oy);
      ctx.moveTo(ox, Y(-1.15));
      ctx.lineTo(ox, Y(1.15));
      ctx.stroke();
      ctx.strokeStyle = "#c9d1de";
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.arc(ox, oy, R, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.fillStyle = MUTED;
      ctx.font = "12px system-ui, sans-serif";
      // the axis names sit outside the unit circle, where no point of the ring lands
      placeLabel(ctx, "cos", X(1.04) + 2, oy - 6);
      placeLabel(ctx, "sin", ox + 6, Y(1.06) - 3);
      // each projected value u_n is a point on the circle at angle t·u_n (drawing only)
      ctx.fillStyle = rgba(CORAL, 0.35);
      for (const u of E.u) {
        ctx.beginPath();
        ctx.arc(X(Math.cos(k.t * u)), Y(Math.sin(k.t * u)), 3.2, 0, 2 * Math.PI);
        ctx.fill();
      }
      // the library's mean (C, S), the target (φ, 0) and the gap between them
      ctx.setLineDash([4, 4]);
      ctx.strokeStyle = INK;
      ctx.lineWidth = 1.2;
      ctx.beginPath();
      ctx.moveTo(X(k.c), Y(k.s));
      ctx.lineTo(X(k.phi), Y(0));
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.strokeStyle = CORAL;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(ox, oy);
      ctx.lineTo(X(k.c), Y(k.s));
      ctx.stroke();
      marker(ctx, X(k.phi), Y(0), BLUE, "target");
      marker(ctx, X(k.c), Y(k.s), CORAL, "mean");
    }

    function marker(ctx, x, y, color, label) {
      ctx.fillStyle = color;
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(x, y, 6, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
      ctx.font = "600 12px system-ui, sans-serif";
      // "mean" is labelled on its side toward the centre: the points of the ring lie outside it
      const toward = label === "mean" && x > ctx.canvas.clientWidth / 2 ? -9 - ctx.measureText(label).width : 9;
      placeLabel(ctx, label, x + (label === "target" ? -20 : toward), y + (label === "target" ? 20 : -9));
    }

    // the whole curves, t = −5 .. 5, from the same library table
    const ts = [];
    for (let i = -(E.t.length - 1); i < E.t.length; i++) ts.push(i * E.dt);
    const curves = ts.map((t) => at(t));

    function drawPlot(k) {
      const { ctx, w, h } = fitCanvas(plot);
      const left = 34;
      const right = w - 12;
      const top = 14;
      const bottom = h - 28;
      const X = (t) => left + ((t + 5) / 10) * (right - left);
      const Y = (v) => top + ((1.1 - v) / 2.2) * (bottom - top);
      ctx.font = "11px system-ui, sans-serif";
      ctx.fillStyle = MUTED;
      ctx.strokeStyle = GRID;
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (const v of [-1, 0, 1]) {
        ctx.moveTo(left, Y(v));
        ctx.lineTo(right, Y(v));
        ctx.fillText(String(v), left - 18, Y(v) + 4);
      }
      for (let t = -5; t <= 5; t++) {
        ctx.moveTo(X(t), bottom);
        ctx.lineTo(X(t), bottom + 4);
        ctx.fillText(String(t), X(t) - (t < 0 ? 6 : 3), bottom + 16);
      }
      ctx.stroke();
      // the discrepancy Re φ̂ − φ (the integrand also has Im φ̂ and the Gaussian window)
      ctx.fillStyle = rgba(CORAL, 0.16);
      ctx.beginPath();
      curves.forEach((k2, i) => (i === 0 ? ctx.moveTo(X(k2.t), Y(k2.c)) : ctx.lineTo(X(k2.t), Y(k2.c))));
      for (let i = curves.length - 1; i >= 0; i--) ctx.lineTo(X(curves[i].t), Y(curves[i].phi));
      ctx.closePath();
      ctx.fill();
      line(ctx, curves, X, Y, "phi", BLUE, [], 2.2);
      line(ctx, curves, X, Y, "c", CORAL, [], 2);
      line(ctx, curves, X, Y, "s", CORAL, [5, 4], 1.6);
      // the 17 knots of the paper's grid, t_j ∈ linspace(−5, 5, 17)
      ctx.strokeStyle = BLUE;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      for (let j = 0; j < 17; j++) {
        const t = -5 + (10 * j) / 16;
        ctx.moveTo(X(t), bottom - 5);
        ctx.lineTo(X(t), bottom);
      }
      ctx.stroke();
      // the selected t
      ctx.strokeStyle = rgba(INK, 0.5);
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(X(k.t), top);
      ctx.lineTo(X(k.t), bottom);
      ctx.stroke();
      for (const [v, color] of [
        [k.phi, BLUE],
        [k.c, CORAL],
        [k.s, CORAL],
      ]) {
        ctx.fillStyle = color;
        ctx.beginPath();
        ctx.arc(X(k.t), Y(v), 4, 0, 2 * Math.PI);
        ctx.fill();
      }
      ctx.fillStyle = INK;
      ctx.font = "600 12px system-ui, sans-serif";
      ctx.fillText(`t = ${k.t.toFixed(2)}`, clamp(X(k.t) + 6, left, right - 60), top + 10);
    }

    function line(ctx, curves, X, Y, key, color, dash, width) {
      ctx.strokeStyle = color;
      ctx.lineWidth = width;
      ctx.setLineDash(dash);
      ctx.beginPath();
      curves.forEach((k, i) => (i === 0 ? ctx.moveTo(X(k.t), Y(k[key])) : ctx.lineTo(X(k.t), Y(k[key]))));
      ctx.stroke();
      ctx.setLineDash([]);
    }

    function update() {
      const k = at(Number(slider.value));
      setReadout($("#t-value"), k.t, 2);
      setReadout($("#mean-cos"), k.c, 4);
      setReadout($("#mean-sin"), k.s, 4);
      setReadout($("#target-real"), k.phi, 4);
      setReadout($("#target-imag"), 0, 4);
      drawCircle(k);
      drawPlot(k);
    }

    // Dragging on the plot moves t as well.
    function fromPlot(e) {
      if (!(e.buttons & 1)) return;
      const rect = plot.getBoundingClientRect();
      const t = -5 + (10 * (e.clientX - rect.left - 34)) / (rect.width - 46);
      slider.value = String(clamp(Math.round(t / 0.05) * 0.05, -5, 5).toFixed(2));
      update();
    }
    plot.addEventListener("pointerdown", fromPlot);
    plot.addEventListener("pointermove", fromPlot);
    slider.addEventListener("input", update);
    redrawers.push(update);
    update();
  }

  // ---- 04: the toy descent ---------------------------------------------------------------

  function setupToy() {
    const T = D.toy;
    const last = T.values.length - 1;
    const label = $("#toy-label");
    const playButton = $("#toy-play");
    const plot = $("#toy-plot");
    let step = 0;
    let timer = null;

    $("#toy-setup").textContent =
      `${T.frames[0].length} points start on a thin line; step size η = ${T.lr}, ` +
      `${T.slices} fresh slice directions per step, ${last} steps (sigreg.value_and_grad).`;

    const render = (ctx, view) => {
      drawSphere(ctx, view, "back");
      drawPoints(ctx, view, T.frames[step], CORAL, 2.4);
      drawSphere(ctx, view, "front");
    };
    // Framed for the current step: the unfolded cloud fills the panel instead of the middle third
    // that the start's far-flung points would leave it (the 2-sigma sphere always fits).
    const toyExtent = (k) => extentFor([T.frames[k]], 2.35);
    const view = new View3D($("#toy-scene"), render, { extent: toyExtent(0), spin: 0.0025 });

    function drawPlot() {
      const { ctx, w, h } = fitCanvas(plot);
      const left = 40;
      const right = w - 14;
      const top = 22; // the axis title sits above the plot, where the step cursor does not run
      const bottom = h - 26;
      const good = D.null.default; // what an exact N(0, I) sample scores on average
      const logs = [...T.values, ...T.range].map(Math.log10);
      const lo = Math.floor(Math.min(...logs));
      const hi = Math.ceil(Math.max(...logs));
      const X = (i) => left + (i / last) * (right - left);
      const Y = (v) => top + ((hi - Math.log10(v)) / (hi - lo)) * (bottom - top);
      ctx.font = "11px system-ui, sans-serif";
      ctx.fillStyle = MUTED;
      ctx.strokeStyle = GRID;
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let e = lo; e <= hi; e++) {
        ctx.moveTo(left, Y(10 ** e));
        ctx.lineTo(right, Y(10 ** e));
        ctx.fillText(e >= 0 ? String(10 ** e) : (10 ** e).toFixed(-e), 4, Y(10 ** e) + 4);
      }
      for (let i = 0; i <= last; i += 20) placeLabel(ctx, String(i), X(i) - 6, bottom + 16);
      ctx.stroke();
      ctx.fillText("step", left - 34, bottom + 16);
      ctx.fillText("SIGReg (log scale)", left + 6, top - 8);
      ctx.fillStyle = rgba(BLUE, 0.1); // where 90% of N(0, I) samples of this size score
      ctx.fillRect(left, Y(T.range[1]), right - left, Y(T.range[0]) - Y(T.range[1]));
      ctx.strokeStyle = BLUE;
      ctx.setLineDash([5, 4]);
      ctx.beginPath();
      ctx.moveTo(left, Y(good));
      ctx.lineTo(right, Y(good));
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = BLUE;
      ctx.fillText(`N(0, I): ${good.toFixed(2)}`, right - 86, Y(good) - 5);
      ctx.strokeStyle = CORAL;
      ctx.lineWidth = 2;
      ctx.beginPath();
      T.values.forEach((v, i) => (i === 0 ? ctx.moveTo(X(i), Y(v)) : ctx.lineTo(X(i), Y(v))));
      ctx.stroke();
      ctx.strokeStyle = rgba(INK, 0.45);
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(X(step), top);
      ctx.lineTo(X(step), bottom);
      ctx.stroke();
      ctx.fillStyle = CORAL;
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(X(step), Y(T.values[step]), 5, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    }

    function show(k) {
      step = clamp(k, 0, last);
      view.extent = toyExtent(step);
      label.dataset.step = String(step);
      label.dataset.value = String(T.values[step]);
      label.textContent = `Step ${step} · SIGReg ${T.values[step].toFixed(4)}`;
      spreadBars($('.spreads[data-for="toy"]'), T.sd[step]);
      drawPlot();
      view.draw();
    }

    function pause() {
      window.clearInterval(timer);
      timer = null;
      playButton.textContent = "Play";
    }

    function play() {
      if (step >= last) show(0);
      playButton.textContent = "Pause";
      timer = window.setInterval(() => {
        show(step + 1);
        if (step >= last) pause();
      }, 70);
    }

    $("#toy-step").addEventListener("click", () => {
      pause();
      show(step + 1);
    });
    $("#toy-reset").addEventListener("click", () => {
      pause();
      show(0);
    });
    playButton.addEventListener("click", () => (timer ? pause() : play()));
    // Clicking or dragging on the curve jumps to that step.
    const fromPlot = (e) => {
      if (!(e.buttons & 1)) return;
      pause();
      const rect = plot.getBoundingClientRect();
      show(Math.round(((e.clientX - rect.left - 40) / (rect.width - 54)) * last));
    };
    plot.addEventListener("pointerdown", fromPlot);
    plot.addEventListener("pointermove", fromPlot);
    redrawers.push(drawPlot);
    show(0);
  }

  // ---- LeJEPA: the worked example ------------------------------------------------------------

  function setupLejepa() {
    const L = D.lejepa;
    const names = {
      collapsed: "Collapsed: views agree, the cloud is a line",
      spread: "Spread: views agree, the cloud is \\(\\mathcal{N}(\\mathbf{0}, I)\\)", // typeset by MathJax
      disagree: "Spread, but the two views disagree",
    };
    $("[data-lam]").textContent = String(L.lam);
    const body = $("#lejepa-table tbody");
    for (const [key, row] of Object.entries(L.rows)) {
      const tr = document.createElement("tr");
      tr.innerHTML = `<td>${names[key]}</td><td></td><td></td><td></td>`;
      const cells = tr.querySelectorAll("td");
      ["sigreg", "prediction", "loss"].forEach((field, i) => {
        cells[i + 1].dataset.value = String(row[field]);
        cells[i + 1].textContent = formatNumber(row[field]);
      });
      body.appendChild(tr);
    }
  }

  // ---- what a good value is: the null means, from the library --------------------------------

  function setupReference() {
    // One way of writing the null mean across the docs: about 1.05 on the default grid; the whole
    // line's (exact) 1.0594, and the paper's grid's, to four decimals.
    document
      .querySelectorAll("[data-null]")
      .forEach((el) => setReadout(el, D.null[el.dataset.null], el.dataset.null === "default" ? 2 : 4));
    document
      .querySelectorAll("[data-band]")
      .forEach((el) => setReadout(el, D.collapse.range[el.dataset.band === "low" ? 0 : 1], 2));
    setReadout($("#toy-low"), D.toy.range[0], 2);
    setReadout($("#toy-high"), D.toy.range[1], 2);
    setReadout($("#toy-final"), D.toy.values[D.toy.values.length - 1], 2);
  }

  // ---- start -----------------------------------------------------------------------------------

  $("#data-version").textContent = `Data: sigreg ${D.version}.`;
  setupHero();
  setupCollapse();
  setupWhy();
  setupEppsPulley();
  setupToy();
  setupLejepa();
  setupReference();
  views.forEach((v) => {
    v.draw();
    observer.observe(v.canvas);
  });
  window.requestAnimationFrame(animate);
})();

// A signature pad on a canvas. Pointer events cover mouse, pen and touch alike;
// the strokes are kept in the signature-pad point format {x, y, time, pressure}
// (x/y in CSS pixels of the canvas, time in whole milliseconds since the first
// point) and sent as they are: the server renders and hashes them, not a screenshot.

export function signaturePad(canvas) {
  const strokes = [];
  let current = null;
  let origin = null;
  const ctx = canvas.getContext("2d");

  function resize() {
    const ratio = window.devicePixelRatio || 1;
    const box = canvas.getBoundingClientRect();
    canvas.width = Math.max(1, Math.round(box.width * ratio));
    canvas.height = Math.max(1, Math.round(box.height * ratio));
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.lineWidth = 2.6; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#111";
    redraw();
  }

  function point(event) {
    const box = canvas.getBoundingClientRect();
    const now = performance.now();
    if (origin === null) origin = now;
    return {
      x: Math.round((event.clientX - box.left) * 100) / 100,
      y: Math.round((event.clientY - box.top) * 100) / 100,
      time: Math.round(now - origin),
      pressure: event.pressure > 0 && event.pressure <= 1 ? Math.round(event.pressure * 1000) / 1000 : 0.5,
    };
  }

  function line(a, b) { ctx.beginPath(); ctx.moveTo(a.x, a.y); ctx.lineTo(b.x, b.y); ctx.stroke(); }
  function dot(p) { ctx.beginPath(); ctx.arc(p.x, p.y, 1.3, 0, 2 * Math.PI); ctx.fill(); }

  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = "#111";
    for (const s of strokes) {
      if (s.points.length === 1) dot(s.points[0]);
      for (let i = 1; i < s.points.length; i++) line(s.points[i - 1], s.points[i]);
    }
  }

  function down(e) {
    if (e.button > 0) return;
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    current = { points: [point(e)] };
    strokes.push(current);
    dot(current.points[0]);
  }
  function move(e) {
    if (!current) return;
    e.preventDefault();
    const events = typeof e.getCoalescedEvents === "function" ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) {
      const p = point(ev);
      const last = current.points[current.points.length - 1];
      if (p.x === last.x && p.y === last.y) continue;
      if (p.time < last.time) p.time = last.time;
      current.points.push(p);
      line(last, p);
    }
  }
  function end() { current = null; }

  canvas.addEventListener("pointerdown", down);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  window.addEventListener("resize", resize);
  resize();

  return {
    clear() { strokes.length = 0; origin = null; current = null; redraw(); },
    isEmpty() { return strokes.reduce((n, s) => n + s.points.length, 0) < 10; },
    destroy() { window.removeEventListener("resize", resize); },
    value() {
      const box = canvas.getBoundingClientRect();
      return {
        strokes: strokes.map((s) => ({ points: s.points.map((p) => ({ ...p })) })),
        canvas_width: Math.round(box.width),
        canvas_height: Math.round(box.height),
        device_pixel_ratio: window.devicePixelRatio || 1,
      };
    },
  };
}

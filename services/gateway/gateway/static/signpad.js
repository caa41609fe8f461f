// A signature pad on a canvas: pointer events (mouse, pen and touch alike), the
// strokes kept in the signature-pad point format and sent as they are.

export function signaturePad(canvas) {
  const strokes = [];
  let current = null;
  let origin = null;
  const ctx = canvas.getContext("2d");

  function resize() {
    const ratio = window.devicePixelRatio || 1;
    const box = canvas.getBoundingClientRect();
    canvas.width = Math.round(box.width * ratio);
    canvas.height = Math.round(box.height * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.lineWidth = 2.4; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#111";
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
      pressure: event.pressure > 0 && event.pressure <= 1 ? event.pressure : 0.5,
    };
  }

  function line(a, b) { ctx.beginPath(); ctx.moveTo(a.x, a.y); ctx.lineTo(b.x, b.y); ctx.stroke(); }

  function redraw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    for (const s of strokes) for (let i = 1; i < s.points.length; i++) line(s.points[i - 1], s.points[i]);
  }

  canvas.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    current = { points: [point(e)] };
    strokes.push(current);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!current) return;
    const p = point(e);
    const last = current.points[current.points.length - 1];
    if (p.time < last.time) p.time = last.time;
    current.points.push(p);
    line(last, p);
  });
  const end = () => { current = null; };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  window.addEventListener("resize", resize);
  resize();

  return {
    clear() { strokes.length = 0; origin = null; redraw(); },
    isEmpty() { return strokes.reduce((n, s) => n + s.points.length, 0) < 10; },
    value() {
      const box = canvas.getBoundingClientRect();
      return {
        strokes: strokes.map((s) => ({ points: s.points })),
        canvas_width: Math.round(box.width),
        canvas_height: Math.round(box.height),
        device_pixel_ratio: window.devicePixelRatio || 1,
      };
    },
  };
}

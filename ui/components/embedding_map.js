// The Embedding page's map: 10,000 points on a 2-D canvas, with box and lasso selection, zoom, hover and a
// legend that hides groups. A Streamlit v2 component (ui/embedding_map.py sends `data`, this sends the selection
// back as the state value "selection": the chosen image indices, sorted).
//
// Why not plotly: Streamlit builds a selectable plotly chart anew whenever its figure changes, and its WebGL
// points are drawn in software on machines without a graphics chip; this map draws in about 20 ms.

const PAD = 12; // px around the points
const NEAR = 7; // px: how close the mouse must be to a point to hover or click it
const CELL = 16; // px: the hover index's grid

function inside(px, py, poly) {
  // Even-odd rule: is (px, py) inside the polygon [[x, y], ...]?
  let hit = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

function extent(values) {
  let low = Infinity;
  let high = -Infinity;
  for (const v of values) {
    if (v < low) low = v;
    if (v > high) high = v;
  }
  if (!(high > low)) return [low - 1, high + 1];
  return [low, high];
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const drawn = parentElement.__fmEmb;
  if (drawn && drawn.signature === data.signature && drawn.root.isConnected) {
    // The same map after a rerun (a selection, another widget): keep the canvas, zoom, mode and hidden classes;
    // take the selection the server now holds. Rebuilding would replace the element under the person's mouse.
    drawn.setStateValue = setStateValue;
    drawn.update(data.selected || []);
    return undefined;
  }
  for (const old of parentElement.querySelectorAll(":scope > .fm-emb")) old.remove(); // not the component's <style>
  const n = data.x.length;
  const state = {
    signature: data.signature,
    mode: "box",
    hidden: new Set(),
    selected: new Set(data.selected || []),
    view: null, // [x0, x1, y0, y1] in data units; null = everything
    setStateValue,
  };
  parentElement.__fmEmb = state;

  const root = el("div", "fm-emb", parentElement);
  root.dataset.testid = "fm-emb";
  root.dataset.count = String(n);
  const head = el("div", "fm-emb-head", root);
  el("div", "fm-emb-title", head, data.title);
  const tools = el("div", "fm-emb-tools", head);
  const modes = {};
  for (const [mode, label, tip] of [
    ["box", "Box", "Drag a box to select images"],
    ["lasso", "Lasso", "Draw round images to select them"],
    ["zoom", "Zoom", "Drag a box to zoom in; double-click to see everything again"],
  ]) {
    const button = el("button", "fm-emb-tool", tools, label);
    button.type = "button";
    button.title = tip;
    button.addEventListener("click", () => {
      state.mode = mode;
      for (const [m, b] of Object.entries(modes)) b.setAttribute("aria-pressed", String(m === mode));
    });
    modes[mode] = button;
  }
  modes[state.mode].setAttribute("aria-pressed", "true");
  for (const m of Object.keys(modes)) if (m !== state.mode) modes[m].setAttribute("aria-pressed", "false");
  const reset = el("button", "fm-emb-tool", tools, "Reset view");
  reset.type = "button";
  const clear = el("button", "fm-emb-tool", tools, "Clear selection");
  clear.type = "button";

  const body = el("div", "fm-emb-body", root);
  const stage = el("div", "fm-emb-stage", body);
  stage.style.height = `${data.height}px`;
  const canvas = el("canvas", "fm-emb-points", stage);
  const overlay = el("canvas", "fm-emb-overlay", stage);
  const tip = el("div", "fm-emb-tip", stage);
  tip.hidden = true;
  const legend = el("div", "fm-emb-legend", body);

  // --- legend: one entry per group (click hides or shows it), or a colour bar ---------------------------
  const entries = [];
  data.groups.forEach((group, g) => {
    const entry = el("button", "fm-emb-entry", legend);
    entry.type = "button";
    entry.title = "Click to hide or show";
    const mark = el("span", `fm-emb-mark fm-emb-${group.symbol}`, entry, group.symbol === "x" ? "×" : "");
    mark.style.color = group.colour;
    if (group.symbol !== "x") mark.style.background = group.colour;
    el("span", "fm-emb-name", entry, group.name);
    entry.addEventListener("click", () => {
      if (state.hidden.has(g)) state.hidden.delete(g);
      else state.hidden.add(g);
      paint();
    });
    entries.push(entry);
  });
  if (data.colourbar) {
    const bar = el("div", "fm-emb-colourbar", legend);
    el("div", "fm-emb-name", bar, data.colourbar.title);
    const ramp = el("div", "fm-emb-ramp", bar);
    ramp.style.background = `linear-gradient(to top, ${data.colourbar.colours.join(", ")})`;
    const ends = el("div", "fm-emb-ends", bar);
    el("span", "", ends, data.colourbar.high);
    el("span", "", ends, data.colourbar.low);
  }

  // --- geometry ------------------------------------------------------------------------------------------
  const [fx0, fx1] = extent(data.x);
  const [fy0, fy1] = extent(data.y);
  const full = [fx0, fx1, fy0, fy1];
  let width = 0;
  let height = data.height;
  let sx = 1;
  let sy = 1;
  let ox = 0;
  let oy = 0;
  const px = new Float32Array(n);
  const py = new Float32Array(n);
  let grid = new Map();

  function layout() {
    width = Math.max(120, Math.floor(stage.clientWidth));
    height = Math.min(data.height, Math.max(280, Math.round(width * 0.9))); // a narrow window: no empty bands
    stage.style.height = `${height}px`;
    const ratio = window.devicePixelRatio || 1;
    for (const c of [canvas, overlay]) {
      c.width = Math.round(width * ratio);
      c.height = Math.round(height * ratio);
      c.style.width = `${width}px`;
      c.style.height = `${height}px`;
      c.getContext("2d").setTransform(ratio, 0, 0, ratio, 0, 0);
    }
    // Equal units on both axes (as plotly's scaleanchor did), centred.
    const [x0, x1, y0, y1] = state.view || full;
    const scale = Math.min((width - 2 * PAD) / (x1 - x0), (height - 2 * PAD) / (y1 - y0));
    sx = scale;
    sy = scale;
    ox = (width - scale * (x1 - x0)) / 2 - scale * x0;
    oy = (height + scale * (y1 - y0)) / 2 + scale * y0;
    for (let i = 0; i < n; i++) {
      px[i] = ox + sx * data.x[i];
      py[i] = oy - sy * data.y[i];
    }
  }

  function visible(i) {
    return !state.hidden.has(data.g[i]) && px[i] >= 0 && px[i] <= width && py[i] >= 0 && py[i] <= height;
  }

  function paint() {
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, width, height);
    const text = getComputedStyle(root).color;
    ctx.strokeStyle = text;
    ctx.globalAlpha = 0.25;
    ctx.strokeRect(0.5, 0.5, width - 1, height - 1);
    const some = state.selected.size > 0;
    grid = new Map();
    // Dots first, crosses on top (few wrong ones stay visible among the dots); within each, one path per colour.
    for (const cross of [0, 1]) {
      for (const dim of some ? [true, false] : [false]) {
        const paths = new Map();
        for (let i = 0; i < n; i++) {
          if (data.m[i] !== cross || !visible(i)) continue;
          if (some && state.selected.has(i) === dim) continue;
          let path = paths.get(data.c[i]);
          if (!path) paths.set(data.c[i], (path = new Path2D()));
          const x = px[i];
          const y = py[i];
          if (cross) {
            path.moveTo(x - 3, y - 3);
            path.lineTo(x + 3, y + 3);
            path.moveTo(x - 3, y + 3);
            path.lineTo(x + 3, y - 3);
          } else {
            path.moveTo(x + 2.5, y);
            path.arc(x, y, 2.5, 0, 2 * Math.PI);
          }
          const key = `${Math.floor(x / CELL)},${Math.floor(y / CELL)}`; // hover finds dimmed ones too
          const cell = grid.get(key);
          if (cell) cell.push(i);
          else grid.set(key, [i]);
        }
        ctx.globalAlpha = dim ? 0.15 : 0.8;
        ctx.lineWidth = 1.5;
        for (const [c, path] of paths) {
          const colour = data.palette[c];
          if (cross) {
            ctx.strokeStyle = colour;
            ctx.stroke(path);
          } else {
            ctx.fillStyle = colour;
            ctx.fill(path);
          }
        }
      }
    }
    ctx.globalAlpha = 1;
    entries.forEach((entry, g) => entry.classList.toggle("fm-emb-off", state.hidden.has(g)));
    clear.disabled = !some;
    reset.disabled = state.view === null;
    root.dataset.shown = String(grid.size ? [...grid.values()].reduce((s, cell) => s + cell.length, 0) : 0);
    root.dataset.selected = String(state.selected.size);
  }

  function nearest(x, y) {
    let best = -1;
    let bestDistance = NEAR * NEAR;
    const cx = Math.floor(x / CELL);
    const cy = Math.floor(y / CELL);
    for (let dx = -1; dx <= 1; dx++) {
      for (let dy = -1; dy <= 1; dy++) {
        for (const i of grid.get(`${cx + dx},${cy + dy}`) || []) {
          const d = (px[i] - x) ** 2 + (py[i] - y) ** 2;
          if (d <= bestDistance) {
            bestDistance = d;
            best = i;
          }
        }
      }
    }
    return best;
  }

  function send(indices) {
    state.selected = new Set(indices);
    paint();
    state.setStateValue("selection", [...indices].sort((a, b) => a - b));
  }

  // --- the mouse ---------------------------------------------------------------------------------------
  let drag = null; // {points: [[x, y], ...]}
  const where = (event) => {
    const box = overlay.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  };
  const drawDrag = () => {
    const ctx = overlay.getContext("2d");
    ctx.clearRect(0, 0, width, height);
    if (!drag) return;
    ctx.strokeStyle = getComputedStyle(root).color;
    ctx.setLineDash([4, 3]);
    ctx.lineWidth = 1;
    ctx.beginPath();
    if (state.mode === "lasso") {
      drag.points.forEach(([x, y], k) => (k ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.closePath();
    } else {
      const [[x0, y0], [x1, y1]] = [drag.points[0], drag.points[drag.points.length - 1]];
      ctx.rect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
    }
    ctx.stroke();
  };

  overlay.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    overlay.setPointerCapture(event.pointerId);
    drag = { points: [where(event)] };
    tip.hidden = true;
  });
  overlay.addEventListener("pointermove", (event) => {
    const [x, y] = where(event);
    if (drag) {
      drag.points.push([x, y]);
      drawDrag();
      return;
    }
    const i = nearest(x, y);
    if (i < 0) {
      tip.hidden = true;
      return;
    }
    const h = data.hover;
    tip.replaceChildren();
    el("div", "fm-emb-tip-title", tip, `#${i}`);
    el("div", "", tip, `actual ${h.names[h.actual[i]]}`);
    el("div", "", tip, `predicted ${h.names[h.predicted[i]]}`);
    el("div", "", tip, `confidence ${(100 * h.confidence[i]).toFixed(1)}%`);
    tip.hidden = false;
    tip.style.left = `${Math.min(px[i] + 10, width - tip.offsetWidth - 4)}px`;
    tip.style.top = `${Math.max(py[i] - tip.offsetHeight - 8, 4)}px`;
  });
  overlay.addEventListener("pointerleave", () => {
    if (!drag) tip.hidden = true;
  });
  overlay.addEventListener("pointerup", (event) => {
    if (!drag) return;
    const points = drag.points;
    points.push(where(event));
    drag = null;
    drawDrag();
    const [x0, y0] = points[0];
    const [x1, y1] = points[points.length - 1];
    const moved = Math.max(...points.map(([x, y]) => Math.hypot(x - x0, y - y0)));
    if (moved < 4) {
      const i = nearest(x0, y0); // a click: that image alone
      if (i >= 0) send([i]);
      return;
    }
    if (state.mode === "zoom") {
      const a = [(Math.min(x0, x1) - ox) / sx, (Math.max(x0, x1) - ox) / sx];
      const b = [(oy - Math.max(y0, y1)) / sy, (oy - Math.min(y0, y1)) / sy];
      if (a[1] - a[0] > 0 && b[1] - b[0] > 0) state.view = [a[0], a[1], b[0], b[1]];
      layout();
      paint();
      return;
    }
    const chosen = [];
    const left = Math.min(x0, x1);
    const right = Math.max(x0, x1);
    const top = Math.min(y0, y1);
    const bottom = Math.max(y0, y1);
    for (let i = 0; i < n; i++) {
      if (!visible(i)) continue;
      const hit =
        state.mode === "lasso"
          ? inside(px[i], py[i], points)
          : px[i] >= left && px[i] <= right && py[i] >= top && py[i] <= bottom;
      if (hit) chosen.push(i);
    }
    send(chosen);
  });
  overlay.addEventListener("dblclick", () => {
    state.view = null;
    layout();
    paint();
  });
  reset.addEventListener("click", () => {
    state.view = null;
    layout();
    paint();
  });
  clear.addEventListener("click", () => send([]));

  // Tests and the bench find a point on screen with this (as plotly's own layout serves them for its charts).
  root.fmPoint = (i) => {
    const box = overlay.getBoundingClientRect();
    return { x: box.left + px[i], y: box.top + py[i] };
  };

  state.root = root;
  state.update = (selected) => {
    state.selected = new Set(selected);
    paint();
  };
  layout();
  paint();
  let lastWidth = width;
  const resized = new ResizeObserver(() => {
    if (!stage.isConnected) {
      resized.disconnect(); // the map is gone (another page, another view)
      return;
    }
    if (Math.floor(stage.clientWidth) === lastWidth) return;
    lastWidth = Math.floor(stage.clientWidth);
    layout();
    paint();
  });
  resized.observe(stage);
  return undefined; // nothing to clean: Streamlit may call a cleanup before it calls this again for a rerun
}

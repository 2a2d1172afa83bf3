// The FAR calibration table as a plot: estimated false-accept rate (log scale) against cosine
// similarity, with the threshold in force marked. Plain SVG, no charting library.

import { formatFar, formatSim, s } from './dom.js';

const W = 640;
const H = 300;
const M = { left: 58, right: 16, top: 16, bottom: 42 };

export function farPlot(calibration, threshold, thresholdFar) {
  const floor = calibration.far_floor;
  const pts = calibration.points.map((p) => ({ x: p.similarity, y: Math.max(p.far, floor) }));
  const x0 = Math.floor(pts[0].x * 20) / 20;
  const x1 = 1;
  const yTop = 0;
  const yBottom = Math.floor(Math.log10(floor));
  const px = (x) => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (far) =>
    M.top + ((yTop - Math.log10(far)) / (yTop - yBottom)) * (H - M.top - M.bottom);

  const svg = s('svg', {
    class: 'plot',
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-label': `Estimated false-accept rate against similarity; threshold ${formatSim(threshold)} at FAR ${formatFar(thresholdFar)}`,
  });
  const axes = s('g', { class: 'axes' });
  for (let e = yTop; e >= yBottom; e -= 1) {
    const y = py(10 ** e);
    axes.append(
      s('line', { class: 'grid', x1: M.left, x2: W - M.right, y1: y, y2: y }),
      s('text', { x: M.left - 6, y: y + 4, 'text-anchor': 'end' }, e === 0 ? '1' : `1e${e}`),
    );
  }
  for (let x = x0; x <= x1 + 1e-9; x += 0.05) {
    const X = px(x);
    axes.append(
      s('line', { class: 'grid', x1: X, x2: X, y1: M.top, y2: H - M.bottom }),
      s('text', { x: X, y: H - M.bottom + 16, 'text-anchor': 'middle' }, x.toFixed(2)),
    );
  }
  axes.append(
    s('text', { x: (M.left + W - M.right) / 2, y: H - 6, 'text-anchor': 'middle' }, 'cosine similarity'),
    s('text', { x: 14, y: H / 2, transform: `rotate(-90 14 ${H / 2})`, 'text-anchor': 'middle' }, 'false-accept rate'),
  );
  svg.append(axes);
  svg.append(
    s('polyline', {
      class: 'curve',
      points: pts.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' '),
    }),
  );
  const tx = px(threshold);
  const ty = py(Math.max(thresholdFar, floor));
  const label = `threshold ${formatSim(threshold)} → FAR ${formatFar(thresholdFar)}`;
  const leftSide = tx > W * 0.6;
  svg.append(
    s(
      'g',
      { class: 'threshold', testid: 'threshold-marker' },
      s('line', { x1: tx, x2: tx, y1: M.top, y2: H - M.bottom }),
      s('line', { class: 'dash', x1: M.left, x2: tx, y1: ty, y2: ty }),
      s('circle', { cx: tx, cy: ty, r: 4.5 }),
      s('text', { x: leftSide ? tx - 8 : tx + 8, y: M.top + 14, 'text-anchor': leftSide ? 'end' : 'start' }, label),
    ),
  );
  return svg;
}

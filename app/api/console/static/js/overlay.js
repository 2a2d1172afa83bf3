// A photo the operator chose, shown from a blob: URL (it never leaves the browser except in the
// API request itself), with an SVG overlay in the photo's own pixel coordinates, so boxes from
// the API land where they belong at any displayed size.

import { dropZone, h, s } from './dom.js';

export class Photo {
  constructor(file, { caption } = {}) {
    this.url = URL.createObjectURL(file);
    this.img = h('img', { src: this.url, alt: caption || `photo ${file.name}` });
    this.svg = s('svg', {
      class: 'overlay',
      testid: 'face-overlay',
      role: 'img',
      'aria-label': 'detected faces',
      preserveAspectRatio: 'none',
    });
    this.el = h('figure', { class: 'photo' }, h('div', { class: 'frame' }, this.img, this.svg));
    this.placed = []; // label rectangles already drawn, so labels of close faces do not overlap
    this.loaded = new Promise((resolve) => {
      const done = () => {
        this.width = this.img.naturalWidth || 1;
        this.height = this.img.naturalHeight || 1;
        this.svg.setAttribute('viewBox', `0 0 ${this.width} ${this.height}`);
        URL.revokeObjectURL(this.url);
        resolve(this);
      };
      if (this.img.complete && this.img.naturalWidth) done();
      else {
        this.img.addEventListener('load', done, { once: true });
        // A format the browser cannot show (the API may still read it): draw nothing.
        this.img.addEventListener('error', done, { once: true });
      }
    });
    if (caption) this.el.append(h('figcaption', null, caption));
  }

  clear() {
    this.svg.replaceChildren();
    this.placed = [];
  }

  /** Draw one face: its box, an optional label above it, optional landmarks. */
  async box(box, { label, kind = 'face', landmarks } = {}) {
    await this.loaded;
    const unit = Math.max(this.width, this.height) / 100; // 1 % of the photo's long side
    const g = s('g', { class: `face ${kind}` });
    g.append(
      s('rect', {
        testid: 'face-box',
        class: 'box',
        x: box.x,
        y: box.y,
        width: box.width,
        height: box.height,
        'vector-effect': 'non-scaling-stroke',
      }),
    );
    for (const [x, y] of landmarks || []) {
      g.append(s('circle', { class: 'landmark', cx: x, cy: y, r: Math.max(1.5, unit * 0.6) }));
    }
    if (label) {
      const size = Math.max(12, unit * 2.4);
      const height = size * 1.4;
      const width = Math.min(this.width, label.length * size * 0.58 + size * 0.6);
      const x = Math.max(0, Math.min(box.x, this.width - width));
      // Above the box, else below it, else inside its top: the first spot no other label holds.
      const spots = [box.y - height, box.y + box.height, box.y].map((y) =>
        Math.max(0, Math.min(y, this.height - height)),
      );
      const free = (y) =>
        this.placed.every((r) => x + width <= r.x || r.x + r.width <= x || y + height <= r.y || r.y + r.height <= y);
      const y = spots.find(free) ?? spots[0];
      this.placed.push({ x, y, width, height });
      g.append(
        s('rect', { class: 'label-bg', x, y, width, height, rx: size * 0.2 }),
        s('text', { class: 'label', x: x + size * 0.3, y: y + size * 1.05, 'font-size': size }, label),
      );
    }
    this.svg.append(g);
    return g;
  }
}

/**
 * A drop zone for one photo at a time: shows the photo in `out` while `run(file, photo)` asks
 * the service, then what `run` returns beside it; a failure goes to `error`, next to the zone.
 */
export function photoDrop({ label, testid, out, error, busy, run, failed = () => {} }) {
  return dropZone({
    label,
    testid,
    onFiles: async ([file]) => {
      error.show(null);
      const photo = new Photo(file, { caption: file.name });
      out.replaceChildren(photo.el, h('p', { class: 'muted' }, busy));
      try {
        out.replaceChildren(photo.el, ...[await run(file, photo)].flat().filter(Boolean));
      } catch (err) {
        failed();
        out.replaceChildren(photo.el);
        error.show(err);
      }
    },
  });
}

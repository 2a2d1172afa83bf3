// Detect: every face's box, its five landmarks and the quality signals enrollment judges.

import { api, photoForm } from '../api.js';
import { errorSlot, h, section } from '../dom.js';
import { photoDrop } from '../overlay.js';

const SIGNALS = [
  ['detection_score', 'detection score', 3],
  ['interocular_px', 'eye distance (px)', 0],
  ['sharpness', 'sharpness', 0],
  ['pose', 'pose (0 frontal, 1 profile)', 2],
  ['brightness', 'brightness (0–255)', 0],
];

export async function detectView() {
  const out = h('div', { class: 'identify-out stacked' });
  const error = errorSlot();
  const zone = photoDrop({
    label: 'Photo',
    testid: 'detect-files',
    out,
    error,
    busy: 'Detecting…',
    run: async (file, photo) => {
      const found = await api('POST', '/v1/detect', { form: photoForm({ image: file }) });
      found.faces.forEach((f, n) => photo.box(f.box, { label: String(n + 1), landmarks: f.landmarks, kind: 'face' }));
      const table = h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          { class: 'compact', testid: 'detect-result' },
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'face'), SIGNALS.map(([, label]) => h('th', { scope: 'col' }, label)))),
          h(
            'tbody',
            null,
            found.faces.map((f, n) =>
              h('tr', null, h('td', null, String(n + 1)), SIGNALS.map(([key, , digits]) => h('td', null, f.quality[key].toFixed(digits)))),
            ),
          ),
        ),
      );
      const n = found.faces.length;
      return h('div', { class: 'side' }, h('h3', null, n ? `${n} face${n === 1 ? '' : 's'}, largest first` : 'No face found'), n ? table : null);
    },
  });
  return h(
    'div',
    { class: 'stack' },
    h('h1', null, 'Detect'),
    section(
      'Find faces',
      h('p', { class: 'muted' }, 'Boxes, the five landmarks (eyes, nose, mouth corners) and the quality signals enrollment checks. Nothing is stored.'),
      zone,
      error,
      out,
    ),
  );
}

// Building DOM without HTML strings: every text goes in as a text node, so names and ids that
// tenants chose (which may contain markup) can never become markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

function appendAll(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function setProps(el, props) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'testid') {
      el.setAttribute('data-testid', value);
    } else if (name === 'class') {
      el.setAttribute('class', value);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
}

/** An HTML element: h('button', {type: 'button', onclick}, 'Delete'). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  appendAll(el, children);
  return el;
}

/** An SVG element, same calling convention as h(). */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setProps(el, props);
  appendAll(el, children);
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  appendAll(el, children);
  return el;
}

let fieldIds = 0;

/** A labelled input: the label's `for` points at the input, so it is announced and clickable. */
export function field(label, input, hint) {
  const id = input.id || `f${++fieldIds}`;
  input.id = id;
  const hintEl = hint ? h('small', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hintEl);
}

/** An error slot shown next to what caused it; `show(err)` fills it, `show(null)` hides it. */
export function errorSlot() {
  const el = h('p', { class: 'error', role: 'alert', hidden: true });
  el.show = (err) => {
    if (!err) {
      el.hidden = true;
      el.textContent = '';
      return;
    }
    el.hidden = false;
    el.textContent = describeError(err);
  };
  return el;
}

export function describeError(err) {
  if (err && err.code) return `${err.detail || err.message} (${err.code})`;
  return String((err && err.message) || err);
}

const SECTION_IDS = new Set();

export function section(title, ...children) {
  let id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  while (SECTION_IDS.has(id)) id += '-';
  SECTION_IDS.add(id);
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), children);
}

export function formatTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function formatFar(far) {
  if (far == null) return '—';
  if (far >= 0.01) return far.toFixed(3);
  return far.toExponential(1);
}

export function formatSim(sim) {
  return sim == null ? '—' : sim.toFixed(4);
}

/** Ask before something that cannot be undone; resolves true when confirmed. */
export function confirmDialog(message, action = 'Delete') {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = message;
  document.getElementById('confirm-ok').textContent = action;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

/** A drop zone around a file input: drag and drop, click or keyboard (the input is focusable). */
export function dropZone({ label, testid, multiple = false, onFiles }) {
  const input = h('input', {
    type: 'file',
    accept: 'image/*',
    multiple,
    testid,
    class: 'file-input',
  });
  const zone = h(
    'div',
    { class: 'drop' },
    field(label, input, multiple ? 'Drop photos here, or choose files.' : 'Drop a photo here, or choose a file.'),
  );
  const take = (files) => {
    const list = [...files].filter((f) => f.size > 0);
    if (list.length) onFiles(multiple ? list : list.slice(0, 1));
  };
  input.addEventListener('change', () => {
    take(input.files);
    input.value = '';
  });
  zone.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (ev) => {
    ev.preventDefault();
    zone.classList.remove('over');
    take(ev.dataTransfer.files);
  });
  return zone;
}

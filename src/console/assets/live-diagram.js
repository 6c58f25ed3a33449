import { followEvents, h } from './common.js';

// A payment's machine drawn offline (Mermaid from node_modules, the diagram text from
// GET /v1/machines/payment, which the README's diagram is made of too), its current
// state marked and moving as GET /v1/payments/:id/live reports committed changes.

let mermaidReady;

function loadMermaid() {
  mermaidReady ??= new Promise((resolve, reject) => {
    const script = h('script', { src: '/assets/mermaid.min.js' });
    script.addEventListener('load', () => {
      // At its natural size (the machine is large): the frame scrolls to the marked state.
      globalThis.mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', theme: 'neutral', state: { useMaxWidth: false } });
      resolve(globalThis.mermaid);
    });
    script.addEventListener('error', () => reject(new Error('Mermaid could not be loaded')));
    document.head.append(script);
  });
  return mermaidReady;
}

/** The diagram's id of a state path (`charging.calling` → `charging__calling`), as src/diagram/mermaid.ts names them. */
const mermaidId = (path) => path.replaceAll('.', '__');

let renders = 0;

/**
 * Draws the diagram into `container` with `state` marked (colour, a thick border and a
 * bold label, so not by colour alone), and says the state in words in `caption`.
 */
async function draw(container, caption, diagram, state) {
  const mermaid = await loadMermaid();
  const marked = `${diagram}  classDef current fill:#ffd966,stroke:#000,stroke-width:4px,font-weight:bold\n  class ${mermaidId(state)} current\n`;
  const { svg } = await mermaid.render(`payment-diagram-${++renders}`, marked);
  container.innerHTML = svg; // Mermaid's own output, rendered with securityLevel 'strict'.
  container.dataset.state = state;
  const node = container.querySelector('g.current');
  if (node) {
    const [frame, box] = [container.getBoundingClientRect(), node.getBoundingClientRect()];
    container.scrollLeft += box.left - frame.left - (frame.width - box.width) / 2;
    container.scrollTop += box.top - frame.top - (frame.height - box.height) / 2;
  }
  caption.textContent = `Current state: ${state}`;
}

/**
 * A live diagram of one payment. `onSnapshot` hears every committed change (the page
 * refreshes its log with it). Returns the element; the stream stops with `signal`.
 */
export function liveDiagram(paymentId, diagram, { signal, onSnapshot }) {
  const caption = h('p', { id: 'current-state', 'aria-live': 'polite' }, 'Connecting…');
  // Focusable, so the drawing can be scrolled from the keyboard.
  const container = h('div', { id: 'diagram', class: 'diagram', tabindex: 0, role: 'img', 'aria-label': 'State diagram of the payment machine' });
  // Only the latest state is drawn: snapshots that come while one is drawn are passed over.
  let latest;
  let drawing = false;
  const drawLatest = async () => {
    if (drawing) return;
    drawing = true;
    try {
      while (latest !== undefined && latest !== container.dataset.state) await draw(container, caption, diagram, latest);
    } catch (error) {
      caption.textContent = error.message;
    } finally {
      drawing = false;
    }
  };
  followEvents(`/v1/payments/${encodeURIComponent(paymentId)}/live`, {
    signal,
    onEvent: (name, snapshot) => {
      if (name !== 'snapshot') return;
      latest = snapshot.state;
      // Back after an interruption to a state already drawn: say so again.
      if (latest === container.dataset.state) caption.textContent = `Current state: ${latest}`;
      drawLatest();
      onSnapshot?.(snapshot);
    },
    onStatus: (status) => (caption.textContent = status),
  }).catch((error) => (caption.textContent = `Live updates stopped: ${error.message}`));
  return h('figure', { class: 'live' }, caption, container);
}

// Shared by every page: building elements safely (text, never HTML), calling the API,
// the operator's session (token in sessionStorage, never in a URL) and reading SSE.

/** An element with attributes (`on*` as listeners) and children (strings become text). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null && child !== false) element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

export const main = () => document.getElementById('main');

/** Replaces the page's content and moves focus to it, so a keyboard user is where the news is. */
export function show(...children) {
  const target = main();
  target.replaceChildren(...children.flat());
  target.focus();
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

const SESSION = 'paystate.console';

export const session = {
  get() {
    try {
      return JSON.parse(sessionStorage.getItem(SESSION) ?? 'null');
    } catch {
      return null;
    }
  },
  set(value) {
    sessionStorage.setItem(SESSION, JSON.stringify(value));
  },
  clear() {
    sessionStorage.removeItem(SESSION);
  },
};

function adminHeaders() {
  const current = session.get();
  return current ? { authorization: `Bearer ${current.token}`, 'x-admin-actor': current.actor } : {};
}

/** Calls the API; `admin` adds the operator's token. Problem documents become ApiErrors. */
export async function api(path, { method = 'GET', body, admin = false, headers = {}, raw = false } = {}) {
  const response = await fetch(path, {
    method,
    headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(admin ? adminHeaders() : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    const problem = await response.json().catch(() => null);
    if (admin && response.status === 401) session.clear();
    throw new ApiError(response.status, problem);
  }
  return raw ? response : response.json();
}

/**
 * Downloads an admin file (a CSV) as `filename`: fetched with the token in a header, as
 * a link cannot carry it. `button` is disabled meanwhile; a failure goes to `onError`.
 */
export async function downloadAdminFile(path, filename, button, onError) {
  button.disabled = true;
  try {
    const response = await api(path, { admin: true, raw: true });
    const url = URL.createObjectURL(await response.blob());
    h('a', { href: url, download: filename }).click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (error) {
    onError(error);
  } finally {
    button.disabled = false;
  }
}

/** The console's pages need the admin token: asked once per browser session. */
export function requireOperator(start) {
  if (session.get()) return start();
  const token = h('input', { id: 'token', type: 'password', required: true, autocomplete: 'off' });
  const actor = h('input', { id: 'actor', required: true, pattern: '[A-Za-z0-9_.@:+\\-]{1,100}', autocomplete: 'username' });
  const form = h(
    'form',
    {
      class: 'card',
      onsubmit: (event) => {
        event.preventDefault();
        session.set({ token: token.value, actor: actor.value });
        start();
      },
    },
    h('h1', {}, 'Sign in'),
    h('p', {}, 'The admin token is kept in this tab only (session storage) and sent as a header, never in a URL.'),
    h('label', { for: 'token' }, 'Admin token'),
    token,
    h('label', { for: 'actor' }, 'Your name (for the audit trail)'),
    actor,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  show(form);
  token.focus();
}

/** What went wrong, said on the page (and back to sign-in when the token was refused). */
export function showError(error, retry) {
  if (error instanceof ApiError && error.status === 401) return requireOperator(retry);
  show(h('p', { role: 'alert', class: 'error' }, `Error: ${error.message}`));
}

/**
 * Reads a Server-Sent Events stream with fetch (EventSource cannot send the admin
 * header): calls `onEvent(name, data)` for each event. Resolves when the stream ends.
 */
async function readEvents(path, { admin = false, signal, onEvent }) {
  const response = await fetch(path, { headers: { accept: 'text/event-stream', ...(admin ? adminHeaders() : {}) }, signal });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      let data = '';
      for (const line of frame.split('\n')) {
        if (line.startsWith('event: ')) name = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (data) onEvent(name, JSON.parse(data));
    }
  }
}

/**
 * Follows a stream for as long as `signal` allows: when it ends or fails (the service
 * restarted, a network blip) it reconnects with backoff, telling `onStatus` so the page
 * can say its figures may be stale. A 401 stops it (and asks for the token again).
 */
export async function followEvents(path, { admin = false, signal, onEvent, onStatus = () => {} }) {
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      await readEvents(path, { admin, signal, onEvent: (name, data) => ((attempt = 0), onEvent(name, data)) });
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && (error.status === 401 || error.status === 404)) throw error;
    }
    if (signal.aborted) return;
    onStatus('Live updates interrupted; reconnecting…');
    await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 500 * 2 ** attempt)));
  }
}

export const money = (amount, currency = 'KRW') => new Intl.NumberFormat('en', { style: 'currency', currency }).format(amount);
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');

/** A status as a word with a shape, so it reads without colour. */
export function statusBadge(status) {
  return h('span', { class: `status status-${status}` }, status.replaceAll('_', ' '));
}

let dialogs = 0;

/**
 * Asks for a reason in a modal form; resolves with `{ reason, …extra }`, or null when
 * cancelled (the Cancel button or Escape). `extra` adds a select (an outcome) first.
 */
export function askReason(label, extra) {
  const id = `dialog-${++dialogs}`;
  return new Promise((resolve) => {
    let answer = null;
    const input = h('input', { id: `${id}-reason`, required: true, maxlength: 500 });
    if (extra) extra.select.id = `${id}-extra`;
    const dialog = h(
      'dialog',
      { 'aria-labelledby': `${id}-title` },
      h(
        'form',
        {
          method: 'dialog',
          onsubmit: () => {
            answer = { reason: input.value, ...(extra ? { [extra.name]: extra.select.value } : {}) };
          },
        },
        h('h2', { id: `${id}-title` }, label),
        extra ? [h('label', { for: extra.select.id }, extra.label), extra.select] : [],
        h('label', { for: input.id }, 'Reason (kept in the audit trail)'),
        input,
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Confirm'), h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel')),
      ),
    );
    // However it closes (Confirm, Cancel, Escape), it leaves the page and answers once.
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}

/** The two ways an operator settles a payment in requires_attention. */
export function outcomeSelect() {
  return h('select', {}, h('option', { value: 'cancelled' }, 'cancelled: the money went back outside Paystate'), h('option', { value: 'kept' }, 'kept: the charge stands'));
}

/**
 * A table with its caption and column headings; `empty` (a sentence, with `emptyId`)
 * when there is no row. `rows` are `tr` elements.
 */
export function dataTable({ id, caption, headings, rows, empty, emptyId = `${id}-empty` }) {
  if (rows.length === 0) return h('p', { id: emptyId }, empty);
  return h('table', { id }, h('caption', {}, caption), h('thead', {}, h('tr', {}, headings.map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, rows));
}

export const paymentLink = (id) => h('a', { href: `/console/payments/${encodeURIComponent(id)}` }, id);

/** The first cells of a payment's row in the console's tables: its link, status and amount. */
export const paymentCells = (p) => [h('td', {}, paymentLink(p.id)), h('td', {}, statusBadge(p.status)), h('td', { class: 'number' }, money(p.amount, p.currency))];

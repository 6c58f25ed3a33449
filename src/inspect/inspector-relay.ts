import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../logger.ts';

/** Where the bridge page loads Stately's inspector from (in the developer's browser). */
const STATELY_ORIGIN = 'https://stately.ai';
/** What a browser that connects late is sent first: the latest events, at most this many bytes. */
const REPLAY_BYTES = 4 * 1024 * 1024;
/** One inspection event (a payment's snapshot) is a few kilobytes. */
const MAX_MESSAGE_BYTES = 256 * 1024;
/** A browser that reads slower than this much is behind is skipped, not buffered for. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/**
 * The page a developer opens: Stately's inspector in a frame, fed with the events this
 * relay receives. The service itself never goes online; the browser does. Messages go
 * to Stately's origin only, and only its messages are listened to.
 */
function bridgePage(wsUrl: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Paystate: Stately inspector</title>
  <style>html, body { margin: 0; height: 100%; } iframe { width: 100%; height: 100%; border: 0; }</style>
</head>
<body>
  <iframe id="inspector" title="Stately inspector" src="${STATELY_ORIGIN}/inspect"></iframe>
  <script>
    const STATELY = ${JSON.stringify(STATELY_ORIGIN)};
    const frame = document.getElementById('inspector');
    const waiting = [];
    let ready = false;
    const send = (event) => frame.contentWindow.postMessage(event, STATELY);
    window.addEventListener('message', (e) => {
      if (e.origin !== STATELY || !e.data || e.data.type !== '@statelyai.connected') return;
      ready = true;
      waiting.splice(0).forEach(send);
    });
    new WebSocket(${JSON.stringify(wsUrl)}).onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (ready) send(event);
      else waiting.push(event);
    };
  </script>
</body>
</html>`;
}

export interface InspectorRelay {
  /** Where the service publishes its inspection events: a path only it knows. */
  publishUrl: string;
  /** http://127.0.0.1:<port>: the page that shows them in Stately's inspector. */
  pageUrl: string;
  stop(): Promise<void>;
}

/**
 * The local relay between the service and a browser, on 127.0.0.1 only (the one of
 * @statelyai/inspect listens on every interface and relays anything from anyone). Only
 * the service publishes, on a secret path; browsers only listen, and only from the
 * relay's own page (Origin and Host checked: another site open in the developer's
 * browser, or a DNS-rebound name, can read nothing). A browser that connects late is
 * sent the latest events first.
 */
export async function startInspectorRelay(port: number, logger: Logger): Promise<InspectorRelay> {
  const publishPath = `/publish/${randomBytes(16).toString('hex')}`;
  const recent: string[] = [];
  let recentBytes = 0;
  let host = '';
  let pageUrl = '';
  const ours = (req: IncomingMessage) => req.headers.host === host;
  const http: Server = createServer((req, res) => {
    if (!ours(req) || req.method !== 'GET' || req.url !== '/') {
      res.writeHead(ours(req) ? 404 : 421, { 'content-type': 'text/plain' }).end(ours(req) ? 'Not found' : 'Misdirected request');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-frame-options': 'DENY' }).end(bridgePage(`ws://${host}`));
  });
  const relay = new WebSocketServer({
    server: http,
    maxPayload: MAX_MESSAGE_BYTES,
    verifyClient: ({ req, origin }: { req: IncomingMessage; origin: string | undefined }) =>
      ours(req) && (req.url === publishPath ? origin === undefined : req.url === '/' && origin === pageUrl),
  });
  const listeners = new Set<WebSocket>();
  // A bad frame, an oversized message, a reset: that connection ends, never the service.
  const dropped = (error: Error) => logger.debug({ err: error }, 'inspector relay: connection dropped');
  relay.on('error', dropped);
  relay.on('connection', (socket, req) => {
    socket.on('error', (error) => {
      dropped(error);
      socket.terminate();
    });
    if (req.url !== publishPath) {
      listeners.add(socket);
      socket.on('close', () => listeners.delete(socket));
      for (const message of recent) socket.send(message);
      return;
    }
    socket.on('message', (data) => {
      const message = data.toString();
      recent.push(message);
      recentBytes += message.length;
      while (recentBytes > REPLAY_BYTES) recentBytes -= recent.shift()!.length;
      for (const listener of listeners) {
        if (listener.readyState === WebSocket.OPEN && listener.bufferedAmount < MAX_BUFFERED_BYTES) listener.send(message);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, '127.0.0.1', resolve);
  });
  const { port: bound } = http.address() as AddressInfo;
  host = `127.0.0.1:${bound}`;
  pageUrl = `http://${host}`;
  logger.info({ inspector: pageUrl }, 'Stately inspector relay: open the page in a browser');
  return {
    publishUrl: `ws://${host}${publishPath}`,
    pageUrl,
    async stop() {
      for (const client of relay.clients) client.terminate();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

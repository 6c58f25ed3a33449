import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../logger.ts';

/** Where the bridge page loads Stately's inspector from (in the developer's browser). */
const STATELY_INSPECTOR_URL = 'https://stately.ai/inspect';
/** Events kept for a browser that connects late (the relay of @statelyai/inspect keeps as many). */
const REPLAYED = 200;

/**
 * The page a developer opens: Stately's inspector in a frame, fed with the events this
 * relay receives. The service itself never goes online; the browser does.
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
  <iframe id="inspector" title="Stately inspector" src="${STATELY_INSPECTOR_URL}"></iframe>
  <script>
    const frame = document.getElementById('inspector');
    const waiting = [];
    let ready = false;
    window.addEventListener('message', (e) => {
      if (e.data && e.data.type === '@statelyai.connected') {
        ready = true;
        waiting.splice(0).forEach((event) => frame.contentWindow.postMessage(event, '*'));
      }
    });
    new WebSocket(${JSON.stringify(wsUrl)}).onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (ready) frame.contentWindow.postMessage(event, '*');
      else waiting.push(event);
    };
  </script>
</body>
</html>`;
}

export interface InspectorRelay {
  /** ws://127.0.0.1:<port>: where the service sends inspection events. */
  wsUrl: string;
  /** http://127.0.0.1:<port>: the page that shows them in Stately's inspector. */
  pageUrl: string;
  stop(): Promise<void>;
}

/**
 * The local relay between the service and a browser, on 127.0.0.1 only (the one of
 * @statelyai/inspect listens on every interface): every message one client sends goes to
 * every other client, and a client that connects late gets the last ones first.
 */
export async function startInspectorRelay(port: number, logger: Logger): Promise<InspectorRelay> {
  const recent: string[] = [];
  let wsUrl = '';
  const http: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(bridgePage(wsUrl));
  });
  // Inspection events are small; a client sending more is not one of ours.
  const relay = new WebSocketServer({ server: http, maxPayload: 4 * 1024 * 1024 });
  relay.on('connection', (socket) => {
    for (const message of recent) socket.send(message);
    socket.on('message', (data) => {
      const message = data.toString();
      recent.push(message);
      if (recent.length > REPLAYED) recent.shift();
      for (const client of relay.clients) if (client !== socket && client.readyState === WebSocket.OPEN) client.send(message);
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, '127.0.0.1', resolve);
  });
  const { port: bound } = http.address() as AddressInfo;
  wsUrl = `ws://127.0.0.1:${bound}`;
  const pageUrl = `http://127.0.0.1:${bound}`;
  logger.info({ inspector: pageUrl }, 'Stately inspector relay: open the page in a browser');
  return {
    wsUrl,
    pageUrl,
    async stop() {
      for (const client of relay.clients) client.terminate();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

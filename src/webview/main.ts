/**
 * Results webview entry: joins the panel to the host through a MessageEndpoint whose receipt
 * checks drop malformed messages (each reported back as webview/invalidMessage), then runs the
 * ready handshake. Persisted state is only an identity; the host rebuilds the rest.
 */
import { MessageEndpoint } from '../shared/messageEndpoint';
import type { FromWebviewEvent, FromWebviewRequests, ToWebviewEvent, ToWebviewRequests, WebviewPersistedState } from '../shared/protocol';
import { checkResponseToWebview, checkToWebview } from '../shared/protocolGuards';
import { PanelApp } from './panelApp';
import { getVsCodeApi } from './vscodeApi';

const vscodeApi = getVsCodeApi<Partial<WebviewPersistedState>>();
const root = document.getElementById('app')!;
let app: PanelApp | undefined;

const endpoint = new MessageEndpoint<FromWebviewEvent, FromWebviewRequests, ToWebviewEvent, ToWebviewRequests>({
  post: (message) => vscodeApi.postMessage(message),
  onEvent: (event) => app?.handle(event),
  requestHandlers: { 'webview/ping': () => 'pong' as const },
  checkIncoming: checkToWebview,
  checkResponse: checkResponseToWebview,
  onStrayMessage: (message, why) => endpoint.sendEvent({ type: 'webview/invalidMessage', messageType: messageTypeOf(message), reason: why }),
});

/** The dropped message's body type, when it has one (for the host's log). */
function messageTypeOf(message: unknown): string | null {
  const body = (message as { body?: { type?: unknown } } | null)?.body;
  return typeof body?.type === 'string' ? body.type : null;
}

app = new PanelApp(root, { request: endpoint.sendRequest.bind(endpoint), event: (e) => endpoint.sendEvent(e) }, { get: () => vscodeApi.getState(), set: (s) => vscodeApi.setState(s) });

window.addEventListener('message', (e: MessageEvent<unknown>) => {
  try {
    endpoint.handleMessage(e.data);
  } catch (error) {
    // A rendering bug must not take the panel down: report it and keep listening.
    endpoint.sendEvent({ type: 'webview/log', level: 'error', message: `while handling a message: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}` });
  }
});

void app.start();

/**
 * Results webview entry. Handshake: post the ready request, render the state it returns,
 * persist only the prompt's identity (the host's serializer re-reads everything else).
 */
import { toContactSheetError } from '../shared/errors';
import { MessageEndpoint } from '../shared/messageEndpoint';
import type { FromWebviewEvent, FromWebviewRequests, PanelState, ToWebviewEvent, ToWebviewRequests } from '../shared/protocol';
import { renderError, renderPanelState } from './planView';
import { getVsCodeApi } from './vscodeApi';

interface PersistedState {
  promptUri: string;
}

const vscodeApi = getVsCodeApi<PersistedState>();
const root = document.getElementById('app')!;

const endpoint = new MessageEndpoint<FromWebviewEvent, FromWebviewRequests, ToWebviewEvent, ToWebviewRequests>({
  post: (message) => vscodeApi.postMessage(message),
  onEvent: (event) => {
    if (event.type === 'panel/state') show(event.state);
    // run/* events are rendered by the grid once runs exist.
  },
  requestHandlers: { 'webview/ping': () => 'pong' as const },
  onStrayMessage: (_m, why) => log('warn', `ignored a message: ${why}`),
});

window.addEventListener('message', (e: MessageEvent<unknown>) => endpoint.handleMessage(e.data));

function show(state: PanelState): void {
  vscodeApi.setState({ promptUri: state.prompt.uri });
  renderPanelState(root, state, () => {
    endpoint.sendRequest({ type: 'prompt/open' }).catch((e: unknown) => log('error', toContactSheetError(e).message));
  });
}

function log(level: 'info' | 'warn' | 'error', message: string): void {
  endpoint.sendEvent({ type: 'webview/log', level, message });
}

endpoint
  .sendRequest({ type: 'webview/ready', restore: null })
  .then(show)
  .catch((e: unknown) => {
    const error = toContactSheetError(e);
    renderError(root, error.action ? `${error.message} ${error.action}` : error.message);
    log('error', `ready failed: ${error.message}`);
  });

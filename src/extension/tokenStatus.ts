import { createHash } from 'node:crypto';
import * as vscode from 'vscode';
import type { Logger } from '../core/log';
import { toContactSheetError } from '../shared/errors';
import type { TokenView } from '../shared/protocol';
import type { ApiTokenStore } from './apiTokenStore';

/** Checks a token against Replicate (GET /v1/account); the engine host provides it. */
export type TokenChecker = (token: string) => Promise<{ username: string }>;

/**
 * What the panels may know about the stored token: missing, set (and accepted by /v1/account,
 * with the account name, when checked), or invalid. Never the token: only a hash of it is kept,
 * to remember which token a check was about. Checks are made once per token and per API URL.
 */
export class TokenStatus implements vscode.Disposable {
  private view: TokenView = { status: 'unknown', account: null, demoAvailable: true };
  private checked: { key: string; result: Promise<TokenView> } | undefined;
  private readonly changed = new vscode.EventEmitter<TokenView>();
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly tokens: ApiTokenStore,
    private readonly check: TokenChecker,
    private readonly logger: Logger,
    private readonly apiBaseUrl: () => string,
  ) {}

  get current(): TokenView {
    return this.view;
  }

  /** Re-reads SecretStorage; checks a stored token with Replicate unless that was done already. */
  async refresh(): Promise<TokenView> {
    const token = await this.tokens.get();
    if (!token) {
      this.checked = undefined;
      return this.publish({ status: 'missing', account: null, demoAvailable: true });
    }
    const key = createHash('sha256').update(`${this.apiBaseUrl()}\n${token}`).digest('hex');
    if (this.checked?.key !== key) this.checked = { key, result: this.verify(token) };
    const result = await this.checked.result;
    // A newer refresh may have replaced the token meanwhile; report only the latest.
    return this.checked?.key === key ? this.publish(result) : this.view;
  }

  /** Records a check made elsewhere (a run or Set Token just talked to /v1/account). */
  record(status: 'set' | 'invalid', account: string | null): void {
    this.checked = undefined;
    this.publish({ status, account, demoAvailable: true });
  }

  private async verify(token: string): Promise<TokenView> {
    try {
      const { username } = await this.check(token);
      return { status: 'set', account: username, demoAvailable: true };
    } catch (e) {
      const error = toContactSheetError(e);
      if (error.code === 'token-invalid') return { status: 'invalid', account: null, demoAvailable: true };
      // Offline, or a bad API URL setting: the token may well be fine; say nothing more about it.
      this.logger.warn(`Could not check the Replicate API token: ${error.message}`);
      this.checked = undefined;
      return { status: 'set', account: null, demoAvailable: true };
    }
  }

  private publish(view: TokenView): TokenView {
    const changed = JSON.stringify(view) !== JSON.stringify(this.view);
    this.view = view;
    if (changed) this.changed.fire(view);
    return view;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

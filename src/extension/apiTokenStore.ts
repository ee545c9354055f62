import type * as vscode from 'vscode';
import { registerSecret } from '../core/log';

const SECRET_KEY = 'contactSheet.replicateApiToken';

/** The Replicate API token in VS Code's SecretStorage; registered with `redact` whenever it is seen. */
export class ApiTokenStore {
  constructor(private readonly secrets: vscode.SecretStorage) {}

  async get(): Promise<string | undefined> {
    const token = await this.secrets.get(SECRET_KEY);
    registerSecret(token);
    return token || undefined;
  }

  async set(token: string): Promise<void> {
    registerSecret(token);
    await this.secrets.store(SECRET_KEY, token);
  }

  async clear(): Promise<void> {
    await this.secrets.delete(SECRET_KEY);
  }
}

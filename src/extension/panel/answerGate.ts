import type { Envelope } from '../../shared/protocol';

/**
 * Keeps run events behind a snapshot answer. When a request is answered with a copy of the live
 * run (the ready handshake, history/open), events that happen after the copy was taken must reach
 * the webview after the answer, or the webview would drop them (no run shown yet) and miss them.
 * hold() is called with the copy, synchronously after taking it; events posted until that answer
 * is posted wait, then follow it in order.
 */
export class AnswerGate {
  private held: { body: unknown; buffer: Envelope<unknown>[]; timer: NodeJS.Timeout } | undefined;

  constructor(private readonly send: (message: Envelope<unknown>) => Thenable<boolean> | boolean) {}

  hold<T>(body: T): T {
    this.release();
    // Safety net: an answer that is never posted (the panel closed) must not hold events forever.
    this.held = { body, buffer: [], timer: setTimeout(() => this.release(), 5_000) };
    return body;
  }

  post(message: Envelope<unknown>): Thenable<boolean> | boolean {
    if (this.held && message.kind === 'event') {
      this.held.buffer.push(message);
      return true;
    }
    const delivered = this.send(message);
    if (this.held && message.kind === 'response' && message.ok && message.body === this.held.body) this.release();
    return delivered;
  }

  private release(): void {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    clearTimeout(held.timer);
    for (const message of held.buffer) this.post(message);
  }

  /** Drops what is held (the panel is gone). */
  dispose(): void {
    if (this.held) clearTimeout(this.held.timer);
    this.held = undefined;
  }
}

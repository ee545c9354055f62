import * as assert from 'node:assert/strict';
import { AnswerGate } from '../../src/extension/panel/answerGate';
import type { Envelope } from '../../src/shared/protocol';

describe('AnswerGate (run events wait behind a snapshot answer)', () => {
  const event = (n: number): Envelope<unknown> => ({ kind: 'event', body: { type: 'run/cost', n } });

  it('posts events after the answer that carries the snapshot, in order; other answers do not release them', () => {
    const sent: Envelope<unknown>[] = [];
    const gate = new AnswerGate((m) => (sent.push(m), true));
    gate.post(event(1));
    const snapshot = gate.hold({ run: 'copy' });
    gate.post(event(2));
    gate.post({ kind: 'response', inReplyTo: 7, ok: true, body: { other: true } });
    gate.post(event(3));
    assert.deepEqual(sent.map((m) => (m.kind === 'event' ? (m.body as { n: number }).n : m.kind)), [1, 'response']);
    gate.post({ kind: 'response', inReplyTo: 8, ok: true, body: snapshot });
    assert.deepEqual(sent.map((m) => (m.kind === 'event' ? (m.body as { n: number }).n : m.kind)), [1, 'response', 'response', 2, 3]);
    gate.post(event(4));
    assert.equal(sent.length, 6, 'nothing held after the answer');
    gate.dispose();
  });

  it('drops what it holds when disposed (the panel is gone); later events pass', () => {
    const sent: Envelope<unknown>[] = [];
    const gate = new AnswerGate((m) => (sent.push(m), true));
    gate.hold({});
    gate.post(event(1));
    gate.dispose();
    gate.post(event(2));
    assert.deepEqual(sent.map((m) => (m.kind === 'event' ? (m.body as { n: number }).n : m.kind)), [2], 'the held one is dropped, later ones pass');
  });
});

// "Image on disk → image shown" in the real panel. Inside the webview's content frame the probe
// records, per image of a run, the host's run/imageSaved.savedAt (Date.now() on the host right
// after the PNG was on disk) and the moment that card's picture fired `load` (Date.now() in the
// webview: the same instant the panel reports as image/shown.at). Host and webview run on this
// machine, so both clocks are the same clock.

/** Starts recording in the panel's frame; call before the run starts. */
export async function installLatencyProbe(frame) {
  await frame.evaluate(() => {
    const probe = { saved: {}, shown: {} };
    window.__contactSheetLatency = probe;
    const key = (runId, index) => `${runId}#${index}`;
    window.addEventListener('message', (e) => {
      const envelope = e.data;
      const body = envelope && envelope.kind === 'event' ? envelope.body : null;
      if (body?.type !== 'run/imageSaved') return;
      const k = key(body.runId, body.index);
      if (!(k in probe.saved)) probe.saved[k] = { runId: body.runId, index: body.index, savedAt: body.savedAt, thumbnailUri: body.thumbnailUri, receivedAt: Date.now() };
    });
    // Capture phase: a load event does not bubble, and this runs in the same task as the panel's own listener.
    document.addEventListener(
      'load',
      (e) => {
        const img = e.target;
        if (!(img instanceof HTMLImageElement) || !img.classList.contains('card-image')) return;
        const card = img.closest('.card');
        const saved = Object.values(probe.saved).find((s) => s.index === Number(card?.dataset.index) && s.thumbnailUri === img.getAttribute('src'));
        if (!saved) return;
        const k = key(saved.runId, saved.index);
        if (!(k in probe.shown)) probe.shown[k] = Date.now();
      },
      true,
    );
  });
}

/** The samples so far: one per image that was saved and then shown, with its latency in ms. */
export async function readLatencySamples(frame) {
  const probe = await frame.evaluate(() => window.__contactSheetLatency ?? { saved: {}, shown: {} });
  return Object.entries(probe.saved)
    .filter(([k]) => k in probe.shown)
    .map(([k, s]) => ({ runId: s.runId, index: s.index, savedAt: s.savedAt, receivedAt: s.receivedAt, shownAt: probe.shown[k], ms: probe.shown[k] - s.savedAt }))
    .sort((a, b) => a.savedAt - b.savedAt);
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

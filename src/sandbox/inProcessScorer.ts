/** The scorer's ScoringSession on the test's own thread (no worker), to compare against the worker. */
import type { Scorer } from '../core/scoring/scorer';
import { ScoringSession } from '../core/scoring/scoringSession';
import type { ScorerConfig, ScorerProgress } from '../core/scoring/types';

export function inProcessScorer(config: ScorerConfig, hooks: { onProgress?: (p: ScorerProgress) => void } = {}): Scorer {
  const session = new ScoringSession(config, hooks);
  return {
    setPrompt: (prompt, signal) => session.setPrompt(prompt, signal),
    scoreImage: (image, signal) => session.scoreImage(image, signal),
    describe: async () => session.describe(),
    dispose: () => session.dispose(),
  };
}

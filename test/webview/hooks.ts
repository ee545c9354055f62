// Root hooks: one Chromium and one server for every webview test file, closed at the end.
import { closeSharedEnvironment } from './harness';

export const mochaHooks = {
  async afterAll(): Promise<void> {
    await closeSharedEnvironment();
  },
};

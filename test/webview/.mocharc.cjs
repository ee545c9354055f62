// Webview tests: the real bundle in a real Chromium (see harness.ts). TypeScript through tsx.
module.exports = {
  require: ['tsx/cjs', 'test/webview/hooks.ts'],
  spec: ['test/webview/**/*.test.ts'],
  extension: ['ts'],
  timeout: 60000,
  reporter: 'spec',
};

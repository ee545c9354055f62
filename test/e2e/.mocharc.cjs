// End-to-end layer: the packaged VSIX in a fresh code-server, driven through Chromium.
// Generous timeouts: code-server and the workbench start cold; no test asserts on timing.
module.exports = {
  spec: ['test/e2e/**/*.test.mjs'],
  timeout: 120000,
  reporter: 'spec',
};

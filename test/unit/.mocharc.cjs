// Unit tests: plain Node, TypeScript run through tsx. Timeouts are generous because the
// scoring tests build and run real (tiny) ONNX models; no test asserts on timing.
module.exports = {
  require: ['tsx/cjs'],
  spec: ['test/unit/**/*.test.ts'],
  extension: ['ts'],
  timeout: 60000,
  reporter: 'spec',
};

// Scoring worker entry (owns the ONNX sessions); filled in by the scoring work.
export {};

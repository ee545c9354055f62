// Typed messages extension ⇄ webview; filled in by the Foundation work.
export {};

// Webview entry; filled in by the Foundation work.
export {};

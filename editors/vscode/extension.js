// The VS Code client of the hvae-zoo language server: starts `zoo lsp` (stdio) for .hvae files.
// The command comes from the setting `hvae.server.command` (default: `zoo lsp` on the PATH).
"use strict";
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("hvae").get("server.command", ["zoo", "lsp"]);
  const server = { command, args, transport: TransportKind.stdio };
  client = new LanguageClient("hvae", "hvae-zoo language server", { run: server, debug: server }, {
    documentSelector: [{ scheme: "file", language: "hvae" }],
  });
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };

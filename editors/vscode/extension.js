// The VS Code side of schemagm: starts `schemagm lsp` over stdio for .sgm files.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("schemagm.server");
  const command = config.get("command", "schemagm");
  const args = config.get("args", ["lsp"]);
  const server = { command, args, transport: TransportKind.stdio };
  client = new LanguageClient(
    "schemagm",
    "schemagm language server",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "sgm" }, { scheme: "untitled", language: "sgm" }] },
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };

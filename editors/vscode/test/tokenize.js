// Tokenize .hvae files with the TextMate grammar (vscode-textmate + vscode-oniguruma, the engine
// VS Code uses) and print, as JSON, every token scoped invalid.illegal.hvae: {file: [[line, col, text]]}.
// Exit status 0 when the grammar loaded; the caller decides what the tokens mean.
"use strict";
const fs = require("fs");
const path = require("path");
const tm = require("vscode-textmate");
const onig = require("vscode-oniguruma");

async function main(files) {
  const wasm = fs.readFileSync(path.join(path.dirname(require.resolve("vscode-oniguruma")), "onig.wasm"));
  await onig.loadWASM(wasm.buffer);
  const registry = new tm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new onig.OnigScanner(sources),
      createOnigString: (s) => new onig.OnigString(s),
    }),
    loadGrammar: async () => tm.parseRawGrammar(
      fs.readFileSync(path.join(__dirname, "..", "syntaxes", "hvae.tmLanguage.json"), "utf8"), "hvae.tmLanguage.json"),
  });
  const grammar = await registry.loadGrammar("source.hvae");
  const out = {};
  for (const file of files) {
    let stack = tm.INITIAL;
    const bad = [];
    const lines = fs.readFileSync(file, "utf8").split(/\r?\n/);
    lines.forEach((line, i) => {
      const result = grammar.tokenizeLine(line, stack);
      for (const token of result.tokens) {
        if (token.scopes.some((s) => s.startsWith("invalid"))) {
          bad.push([i + 1, token.startIndex + 1, line.slice(token.startIndex, token.endIndex)]);
        }
      }
      stack = result.ruleStack;
    });
    out[file] = bad;
  }
  process.stdout.write(JSON.stringify(out));
}

main(process.argv.slice(2)).catch((err) => { console.error(err); process.exit(2); });

// Validate AsyncAPI documents with the official parser (@asyncapi/parser).
//
//   node deploy/tools/asyncapi/validate.mjs FILE...
//
// Prints every diagnostic as `FILE: severity code at path: message`, then one
// verdict line per file. Exits 1 if any document has an error-severity
// diagnostic (or cannot be parsed at all), 2 on bad usage. The parser is loaded
// from $ASYNCAPI_TOOLS (default: <repo>/.tools/asyncapi), where
// deploy/tools/asyncapi.sh installs it.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const tools = process.env.ASYNCAPI_TOOLS || path.resolve(here, "../../../.tools/asyncapi");
const require = createRequire(path.join(tools, "package.json"));
let Parser;
try {
  ({ Parser } = require("@asyncapi/parser"));
} catch (error) {
  console.error(`validate: @asyncapi/parser not found under ${tools} ` +
                `(run deploy/tools/asyncapi.sh install): ${error.message}`);
  process.exit(2);
}
const SEVERITY = ["error", "warning", "info", "hint"];

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: validate.mjs FILE...");
  process.exit(2);
}

const parser = new Parser();
let failed = 0;
for (const file of files) {
  let text;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    console.log(`${file}: error: cannot read: ${error.message}`);
    failed++;
    continue;
  }
  const { document, diagnostics } = await parser.parse(text, { source: path.resolve(file) });
  let errors = 0;
  for (const d of diagnostics) {
    const severity = SEVERITY[d.severity] ?? String(d.severity);
    if (d.severity === 0) errors++;
    const where = d.path && d.path.length ? ` at /${d.path.join("/")}` : "";
    console.log(`${file}: ${severity} ${d.code}${where}: ${d.message}`);
  }
  if (errors > 0 || document === undefined) {
    failed++;
    console.log(`${file}: INVALID (${errors} error(s))`);
  } else {
    console.log(`${file}: valid AsyncAPI ${document.version()}`);
  }
}
process.exit(failed ? 1 : 0);

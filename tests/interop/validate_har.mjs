// Validate HAR files against HAR 1.2 with har-validator (the test-only, independent check
// of /trace.har; tests/test_har.py runs it). Usage: node validate_har.mjs FILE...
// Prints one line per file, {"valid": true} or {"valid": false, "errors": [...]}, and
// exits 1 if any file is not valid.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const validator = require("har-validator");   // 5.1.5, pinned in package.json

for (const file of process.argv.slice(2)) {
  const har = JSON.parse(await readFile(file, "utf8"));
  try {
    await validator.har(har);
    console.log(JSON.stringify({ valid: true }));
  } catch (err) {
    console.log(JSON.stringify({ valid: false, errors: err.errors ?? [String(err)] }));
    process.exitCode = 1;
  }
}

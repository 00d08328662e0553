// Preloaded with `node --require` into an mcai process under test: at exit, writes the files of
// every CommonJS module the process loaded, one a line, to $LOADED_MODULES_FILE.
"use strict";
process.on("exit", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS preload has no import
  require("node:fs").writeFileSync(process.env.LOADED_MODULES_FILE, Object.keys(require.cache).join("\n"));
});

/**
 * Part of `npm run build`: writes dist/pglite-template.tar.gz, the empty PGlite cluster that a
 * fresh data folder loads instead of running initdb (services/lib/db/pglite-template.ts). Does
 * nothing when the one there was made with the installed PGlite.
 */
import { makeTemplate, PGLITE_TEMPLATE_FILE } from "../services/lib/db/pglite-template";

makeTemplate()
  .then((made) => {
    if (made) console.log(`wrote ${PGLITE_TEMPLATE_FILE}`);
  })
  .catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });

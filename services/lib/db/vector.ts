/**
 * pgvector's npm package for vector literals and for parsing `vector` results, on both drivers.
 * Pinned to the 0.2 line: 0.3 declares Node >= 22 (and is ESM only), our machines run Node 20. It is
 * loaded once with import() (which takes CommonJS and ESM alike, under jest too) when a database's
 * capabilities are read, before any query that carries a vector.
 */
const importPgvector = () => import("pgvector");
type Pgvector = Awaited<ReturnType<typeof importPgvector>>;

let pgvector: Pgvector | undefined;

/** Loads the package (once). */
export async function loadPgvector(): Promise<void> {
  pgvector ??= await importPgvector();
}

function loaded(): Pgvector {
  if (!pgvector) throw new Error("pgvector is not loaded: open the database (refreshCapabilities) first");
  return pgvector;
}

/** Decimals kept per component: 1e-6 on components of a unit vector moves a cosine by at most ~2e-5. */
const DECIMALS = 1e6;

/** pgvector's text form of a vector (pgvector's toSql), each component rounded to 6 decimals. */
export function vectorToSql(v: ArrayLike<number>): string {
  // The 0.2 line types its results as `any`: a vector's literal is a string.
  return (loaded().toSql(Array.from(v, (x) => Math.round(x * DECIMALS) / DECIMALS)) as string | null) ?? "";
}

/** A `vector` value's text form as numbers (pgvector's fromSql). */
export function vectorFromSql(text: string): number[] {
  return loaded().fromSql(text) as number[];
}

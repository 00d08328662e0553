import { ConfigError, loadConfig } from "../../services/lib/config";

describe("config: search settings", () => {
  it("defaults to the values tuned on SciFact train", () => {
    expect(loadConfig({}).datasets).toMatchObject({
      bm25K1: 1.2,
      bm25B: 0.4,
      bm25TermLimit: 1000,
      bm25PostingsBudget: 0,
      bm25ExactPostings: 50_000,
      postingsCacheMb: 32,
      hybridLexicalWeight: 0.95,
      hybridDepth: 20,
    });
  });

  it("reads them", () => {
    const d = loadConfig({
      SEARCH_BM25_K1: "0.9",
      SEARCH_BM25_B: ".75",
      SEARCH_BM25_TERM_LIMIT: "0",
      SEARCH_BM25_POSTINGS_BUDGET: "50000",
      SEARCH_BM25_EXACT_POSTINGS: "0",
      SEARCH_POSTINGS_CACHE_MB: "0",
      SEARCH_HYBRID_LEXICAL_WEIGHT: "1",
      SEARCH_HYBRID_DEPTH: "50",
    }).datasets;
    expect(d).toMatchObject({
      bm25K1: 0.9,
      bm25B: 0.75,
      bm25TermLimit: 0,
      bm25PostingsBudget: 50_000,
      bm25ExactPostings: 0,
      postingsCacheMb: 0,
      hybridLexicalWeight: 1,
      hybridDepth: 50,
    });
  });

  it.each([
    ["SEARCH_BM25_K1", "-1", 'SEARCH_BM25_K1 must be a number from 0 to 10, got "-1"'],
    ["SEARCH_BM25_K1", "abc", 'SEARCH_BM25_K1 must be a number from 0 to 10, got "abc"'],
    ["SEARCH_BM25_B", "1.5", 'SEARCH_BM25_B must be a number from 0 to 1, got "1.5"'],
    ["SEARCH_BM25_B", "1e-1", 'SEARCH_BM25_B must be a number from 0 to 1, got "1e-1"'],
    ["SEARCH_BM25_TERM_LIMIT", "-5", "SEARCH_BM25_TERM_LIMIT must be an integer from 0 to 10000000, got -5"],
    [
      "SEARCH_BM25_POSTINGS_BUDGET",
      "1.5",
      'SEARCH_BM25_POSTINGS_BUDGET must be an integer from 0 to 1000000000, got "1.5"',
    ],
    ["SEARCH_BM25_EXACT_POSTINGS", "-1", "SEARCH_BM25_EXACT_POSTINGS must be an integer from 0 to 1000000000, got -1"],
    ["SEARCH_POSTINGS_CACHE_MB", "x", 'SEARCH_POSTINGS_CACHE_MB must be an integer from 0 to 65536, got "x"'],
    ["SEARCH_HYBRID_LEXICAL_WEIGHT", "2", 'SEARCH_HYBRID_LEXICAL_WEIGHT must be a number from 0 to 1, got "2"'],
    ["SEARCH_HYBRID_DEPTH", "0", "SEARCH_HYBRID_DEPTH must be an integer from 1 to 1000, got 0"],
  ])("refuses %s=%s", (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new ConfigError(name, message));
  });
});

/**
 * What callers of the datasets service need and nothing heavy: the domain rule. A domain names
 * one dataset; the datasets and knowledge services validate it in their params and the CLI checks
 * --domain before it starts anything. migrations/0002_datasets.sql holds the same rule as the
 * CHECK on datasets.domain_name (migrations are append-only, so that copy stays).
 */

/** A domain: 1-64 of a-z, 0-9, "_", "-", starting with a letter or digit. */
export const DOMAIN_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** The rule in words, for messages: "`domain` must be " + DOMAIN_RULE. */
export const DOMAIN_RULE = "1-64 of a-z, 0-9, '_', '-', starting with a letter or digit";

export function isDomain(name: string): boolean {
  return DOMAIN_PATTERN.test(name);
}

/** The `domain` param of an action (fastest-validator). */
export const DOMAIN_PARAM = {
  type: "string",
  pattern: DOMAIN_PATTERN,
  messages: { stringPattern: `'domain' must be ${DOMAIN_RULE}` },
} as const;

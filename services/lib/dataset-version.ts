/**
 * The global dataset version as one node knows it (knowledge for answers, datasets for search results), so that a cache hit costs no call to
 * another service. Cache keys carry the version; serving a hit under an old version would serve an
 * answer made before a dataset change. The version is kept in memory and
 * - raised by each `datasets.changed` event (versions only grow: they come from one sequence);
 * - re-read from `datasets.version` every half bound, and at once when the transporter (re)connects
 *   or a node with datasets (re)joins, since events sent meanwhile may have been lost;
 * - trusted only while its last read began less than the bound ago: past that, the caller reads it
 *   on the spot. So no answer is keyed by a version read more than the bound before it is served,
 *   whatever events were lost.
 */
import type { Context } from "moleculer";
import { BoundedRead, type BoundedReadOptions, type BoundedReadStats } from "./bounded-read";

export interface VersionStats extends BoundedReadStats {
  /** The version in memory; null before the first read or event. */
  value: number | null;
}

/** `read` reads the global version from the datasets service. */
export type DatasetVersionOptions = BoundedReadOptions<number>;

export class DatasetVersion extends BoundedRead<number> {
  private value: number | null = null;

  /** The version: from memory while the last read is younger than the bound, else read now. @throws when that read fails. */
  async current(): Promise<number> {
    if (this.value !== null && this.withinBound) return this.value;
    return this.refresh();
  }

  /** A `datasets.changed` event: the version is at least `version` from now on. */
  changed(version: number): void {
    this.noteEvent();
    if (this.value === null || version > this.value) this.value = version;
  }

  /**
   * Reads the version. A read already in flight is shared when it began within the bound, unless
   * `fresh` (after a reconnect, a read begun before it may have missed what happened meanwhile).
   */
  async refresh(fresh = false): Promise<number> {
    await this.read(fresh);
    // A successful read (this one or a later one already applied) has set it.
    return this.value as number;
  }

  protected apply(v: number, eventsDuring: boolean): void {
    // An event during the read may carry a version the read did not see yet.
    this.value = !eventsDuring || this.value === null ? v : Math.max(v, this.value);
  }

  get stats(): VersionStats {
    return { value: this.value, ...this.readStats };
  }
}

/**
 * The events that keep a service's DatasetVersion current, for its `events`: `datasets.changed`
 * (moves it to the event's version, or reads it again when the event has none), the transporter
 * back (events sent while it was away are lost: read again), and a node with datasets joining or
 * coming back (it may have changed datasets while apart). `onChanged` runs after a change, with
 * the domain, for what else the service keeps per domain.
 */
export function datasetVersionEvents<S extends object>(
  versionOf: (service: S) => DatasetVersion,
  onChanged?: (service: S, domain: string) => Promise<void>,
) {
  return {
    "datasets.changed": {
      params: { domain: "string", version: { type: "number", optional: true } },
      async handler(this: S, ctx: Context<{ domain: string; version?: number }>): Promise<void> {
        const version = versionOf(this);
        if (ctx.params.version === undefined) version.background(true);
        else version.changed(ctx.params.version);
        await onChanged?.(this, ctx.params.domain);
      },
    },
    "$transporter.connected": {
      handler(this: S): void {
        versionOf(this).background(true);
      },
    },
    "$node.connected": {
      handler(this: S, ctx: Context<{ node: { services?: { name: string }[] } }>): void {
        if (ctx.params.node.services?.some((svc) => svc.name === "datasets")) versionOf(this).background(true);
      },
    },
  };
}

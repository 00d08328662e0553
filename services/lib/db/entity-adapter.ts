/**
 * A moleculer-db adapter over mcai's own Postgres layer (`Db`: pg and in-process PGlite alike), so that
 * an entity service needs no second database stack (moleculer-db-adapter-sequelize would bring one).
 * It speaks a small subset of moleculer-db's query language, enough for keyset pages: equality on a
 * declared column, `{ $gt, $lt, $in }`, `sort` by declared columns ("-id" for descending), `limit` and
 * `offset`. Anything else (free-text `search`, an undeclared column, `$set` on the id) is refused with a
 * 422 rather than guessed. Every statement is parameterized; table and column names come from code.
 */
import type { ServiceBroker } from "moleculer";
import { dbOf } from "../runtime";
import { UnprocessableError } from "../errors";
import type { Db, Row } from "./db";

/** One column of an entity table. */
export interface EntityColumn {
  /** How it is read (default: the column itself), e.g. `id::text` so that bigints keep their digits. */
  select?: string;
  /** The cast of its parameter on insert and in filters, e.g. `bigint[]`. */
  cast?: string;
  /** Set by the database (serial id, default now()): never inserted or updated. */
  generated?: boolean;
}

/** The table an adapter serves: its name, id column and columns (names are SQL identifiers from code). */
export interface EntityTable {
  table: string;
  idField: string;
  columns: Record<string, EntityColumn>;
}

/** moleculer-db's find parameters as this adapter reads them. */
export interface EntityFindParams {
  query?: Record<string, unknown>;
  sort?: string | string[];
  limit?: number;
  offset?: number;
  search?: string;
}

type Operator = "$gt" | "$lt" | "$in";
const OPERATORS: Record<Operator, string> = { $gt: ">", $lt: "<", $in: "= ANY" };

/** The adapter; one instance per service (`init` binds it to the broker's database). */
export class PgEntityAdapter {
  private db!: Db;

  constructor(readonly spec: EntityTable) {}

  /** Called by moleculer-db's created(): the database is the broker's, opened by the node. */
  init(broker: ServiceBroker): void {
    this.db = dbOf(broker);
  }

  /** The node opened and migrated the database before the services started: nothing to connect. */
  async connect(): Promise<void> {}

  async disconnect(): Promise<void> {}

  private column(name: string): EntityColumn {
    // Own keys only: `constructor` or `__proto__` are properties of every object, not columns.
    const c = Object.hasOwn(this.spec.columns, name) ? this.spec.columns[name] : undefined;
    if (!c) throw new UnprocessableError(`${name} is not a field of ${this.spec.table}`, { field: name });
    return c;
  }

  private selectList(): string {
    return Object.entries(this.spec.columns)
      .map(([name, c]) => (c.select ? `${c.select} AS ${name}` : name))
      .join(", ");
  }

  private param(values: unknown[], name: string, value: unknown, array = false): string {
    values.push(value);
    const cast = this.column(name).cast;
    return `$${values.length}${cast ? `::${cast}${array ? "[]" : ""}` : ""}`;
  }

  /** WHERE clause of a moleculer-db query object. */
  private where(query: Record<string, unknown> | undefined, values: unknown[]): string {
    const parts: string[] = [];
    for (const [name, cond] of Object.entries(query ?? {})) {
      this.column(name);
      if (cond === null) {
        parts.push(`${name} IS NULL`);
      } else if (typeof cond === "object" && !Array.isArray(cond)) {
        for (const [op, v] of Object.entries(cond as Record<string, unknown>)) {
          if (!(op in OPERATORS)) throw new UnprocessableError(`operator ${op} is not supported`, { field: name });
          const sqlOp = OPERATORS[op as Operator];
          if (op === "$in") parts.push(`${name} ${sqlOp}(${this.param(values, name, v, true)})`);
          else parts.push(`${name} ${sqlOp} ${this.param(values, name, v)}`);
        }
      } else {
        parts.push(`${name} = ${this.param(values, name, cond)}`);
      }
    }
    return parts.length ? `WHERE ${parts.join(" AND ")}` : "";
  }

  private orderBy(sort: string | string[] | undefined): string {
    const fields = (Array.isArray(sort) ? sort : (sort ?? "").split(/[\s,]+/)).filter(Boolean);
    if (!fields.length) return "";
    return `ORDER BY ${fields
      .map((f) => {
        const desc = f.startsWith("-");
        const name = desc ? f.slice(1) : f;
        this.column(name);
        // Qualified: a bare name would sort by the select list's alias (`id::text AS id` sorts as text).
        return `${this.spec.table}.${name} ${desc ? "DESC" : "ASC"}`;
      })
      .join(", ")}`;
  }

  async find(params: EntityFindParams = {}): Promise<Row[]> {
    if (params.search) throw new UnprocessableError("free-text search is not supported here", { field: "search" });
    const values: unknown[] = [];
    let sql = `SELECT ${this.selectList()} FROM ${this.spec.table} ${this.where(params.query, values)} ${this.orderBy(params.sort)}`;
    if (params.limit !== undefined) sql += ` LIMIT ${Math.max(0, Math.floor(params.limit))}`;
    if (params.offset) sql += ` OFFSET ${Math.max(0, Math.floor(params.offset))}`;
    return (await this.db.query(sql, values)).rows;
  }

  async findOne(query: Record<string, unknown>): Promise<Row | null> {
    return (await this.find({ query, limit: 1 }))[0] ?? null;
  }

  async findById(id: unknown): Promise<Row | null> {
    return this.findOne({ [this.spec.idField]: id });
  }

  async findByIds(ids: unknown[]): Promise<Row[]> {
    return this.find({ query: { [this.spec.idField]: { $in: ids } } });
  }

  async count(params: EntityFindParams = {}): Promise<number> {
    const values: unknown[] = [];
    const r = await this.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${this.spec.table} ${this.where(params.query, values)}`,
      values,
    );
    return r.rows[0].n;
  }

  async insert(entity: Record<string, unknown>): Promise<Row> {
    const names = Object.keys(entity).filter((n) => !this.column(n).generated && entity[n] !== undefined);
    const values: unknown[] = [];
    const placeholders = names.map((n) => this.param(values, n, entity[n]));
    const r = await this.db.query(
      `INSERT INTO ${this.spec.table} (${names.join(", ")}) VALUES (${placeholders.join(", ")}) RETURNING ${this.selectList()}`,
      values,
    );
    return r.rows[0];
  }

  async insertMany(entities: Record<string, unknown>[]): Promise<Row[]> {
    // One transaction: a batch is written whole or not at all.
    return this.db.transaction(async (tx) => {
      const out: Row[] = [];
      for (const e of entities) out.push(await new PgEntityAdapter(this.spec).bound(tx as Db).insert(e));
      return out;
    });
  }

  private bound(db: Db): this {
    this.db = db;
    return this;
  }

  async updateById(id: unknown, update: { $set?: Record<string, unknown> }): Promise<Row | null> {
    const set = update.$set ?? {};
    const names = Object.keys(set).filter((n) => n !== this.spec.idField && !this.column(n).generated);
    if (!names.length) return this.findById(id);
    const values: unknown[] = [];
    const sets = names.map((n) => `${n} = ${this.param(values, n, set[n])}`);
    const idParam = this.param(values, this.spec.idField, id);
    const r = await this.db.query(
      `UPDATE ${this.spec.table} SET ${sets.join(", ")} WHERE ${this.spec.idField} = ${idParam} RETURNING ${this.selectList()}`,
      values,
    );
    return r.rows[0] ?? null;
  }

  updateMany(): Promise<number> {
    return Promise.reject(new UnprocessableError(`bulk updates of ${this.spec.table} are not supported`));
  }

  async removeById(id: unknown): Promise<Row | null> {
    const values: unknown[] = [];
    const idParam = this.param(values, this.spec.idField, id);
    const r = await this.db.query(
      `DELETE FROM ${this.spec.table} WHERE ${this.spec.idField} = ${idParam} RETURNING ${this.selectList()}`,
      values,
    );
    return r.rows[0] ?? null;
  }

  async removeMany(query: Record<string, unknown>): Promise<number> {
    const values: unknown[] = [];
    const where = this.where(query, values);
    if (!where) throw new UnprocessableError(`removing every row of ${this.spec.table} needs clear()`);
    return (await this.db.query(`DELETE FROM ${this.spec.table} ${where}`, values)).rowCount;
  }

  async clear(): Promise<number> {
    return (await this.db.query(`DELETE FROM ${this.spec.table}`)).rowCount;
  }

  /** Rows are plain objects already. */
  entityToObject(entity: Row): Row {
    return { ...entity };
  }

  /** The id column keeps its name: nothing to rename either way. */
  beforeSaveTransformID(entity: Row): Row {
    return entity;
  }

  afterRetrieveTransformID(entity: Row): Row {
    return entity;
  }
}

/**
 * Opening an object's SQLite database.
 *
 * Objects are addressed by name, and anyone can make up a name: a request for
 * `r_nonexistent…` would otherwise create a room file on disk. So the schema is
 * only created when the object is really being created (`create: true`);
 * otherwise an object whose database is empty reports that it does not exist,
 * and nothing is written.
 */
import { drizzle, type DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { migrate } from "drizzle-orm/durable-sqlite/migrator";

export type Migrations = Parameters<typeof migrate>[1];

export function hasSchema(storage: DurableObjectStorage, table: string): boolean {
  const rows = storage.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", table).toArray();
  return rows.length > 0;
}

/** Apply pending migrations (idempotent; cheap when up to date). */
export async function ensureSchema<S extends Record<string, unknown>>(db: DrizzleSqliteDODatabase<S>, migrations: Migrations): Promise<void> {
  await migrate(db, migrations);
}

export function openDb<S extends Record<string, unknown>>(storage: DurableObjectStorage, schema: S): DrizzleSqliteDODatabase<S> {
  return drizzle(storage, { schema });
}

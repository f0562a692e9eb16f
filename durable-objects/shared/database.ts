/**
 * Opening an object's SQLite database.
 *
 * Objects are addressed by name, and a stub for a new name starts an object
 * with an empty database (shared/objects.ts keeps made-up ids from getting that
 * far). An object still writes its tables only when it is really being made:
 * a room in `RoomObject.create`, a user in `UserObject.provision`. At wake it
 * migrates only a database that already has its tables (`hasSchema`), so an
 * object that was never created stays empty, reports that it does not exist,
 * and writes nothing. The directory, one per node, always migrates.
 */
import { drizzle, type DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { migrate } from "drizzle-orm/durable-sqlite/migrator";

export type Migrations = Parameters<typeof migrate>[1];

/** Does the database have `table`, i.e. was this object ever created? */
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

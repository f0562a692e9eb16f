import { defineConfig } from "drizzle-kit";
export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./durable-objects/directory/schema.ts",
  out: "./durable-objects/directory/migrations",
});

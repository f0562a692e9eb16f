import { defineConfig } from "drizzle-kit";
export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./durable-objects/mirror/schema.ts",
  out: "./durable-objects/mirror/migrations",
});

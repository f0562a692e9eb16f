import { defineConfig } from "drizzle-kit";
export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./durable-objects/room/schema.ts",
  out: "./durable-objects/room/migrations",
});

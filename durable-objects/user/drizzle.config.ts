import { defineConfig } from "drizzle-kit";
export default defineConfig({
  dialect: "sqlite",
  driver: "durable-sqlite",
  schema: "./durable-objects/user/schema.ts",
  out: "./durable-objects/user/migrations",
});

export * from "./ids";
export * from "./errors";
export * from "./models";
export * from "./rest";
export * from "./names";
export * from "./frames";
export * from "./device";
export * from "./cluster";

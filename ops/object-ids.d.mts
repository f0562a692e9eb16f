// Types for object-ids.mjs.
export function objectIdFromName(uniqueKey: string, name: string): string;

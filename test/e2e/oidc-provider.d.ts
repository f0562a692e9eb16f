/**
 * oidc-provider ships no types (its @types package lags its versions); the
 * tests use a handful of its calls (test/e2e/oidc-idps.ts), typed here as
 * loosely as they are used.
 */
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http";
  interface Grant {
    addOIDCScope(scope: string): void;
    save(): Promise<string>;
  }
  interface Ctx {
    oidc: {
      result?: { consent?: { grantId?: string } };
      session?: { accountId: string; grantIdFor(clientId: string): string | undefined };
      client?: { clientId: string };
      provider: { Grant: { new (init: { clientId: string; accountId: string }): Grant; find(id: string): Promise<Grant | undefined> } };
    };
  }
  interface Configuration {
    clients: Record<string, unknown>[];
    findAccount: (ctx: Ctx, id: string) => Promise<{ accountId: string; claims: () => Promise<Record<string, unknown>> } | undefined>;
    loadExistingGrant: (ctx: Ctx) => Promise<Grant | undefined>;
    [option: string]: unknown;
  }
  export default class Provider {
    constructor(issuer: string, configuration: Configuration);
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
  }
}

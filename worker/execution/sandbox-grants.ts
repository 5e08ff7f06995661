import type { ChildCapabilityProps } from "../capabilities/child-env";

// A remote child reaches the front's capability entrypoints through a forwarder in its sandbox host
// (sandbox-host/host.js), which holds nothing but a bearer token. The token is minted here per execution, names
// the execution's policy, and dies with the execution: a host never holds a binding or a secret of its own, and
// a token that leaks from a host (or is guessed: 256 random bits) opens at most the capabilities one execution
// already had, until that execution ends.
//
// The map lives in the front's isolate. Remote sandboxes exist only locally and self-hosted, where the front is
// one workerd process with one isolate, so the token the forwarder presents arrives in the isolate that minted it.

export interface Grant {
  executionId: string;
  capabilities: ChildCapabilityProps;
  /** Epoch ms; past it the grant is refused even if the execution's cleanup never ran. */
  expiresAt: number;
}

const grants = new Map<string, Grant>();

export function mintGrant(grant: Grant): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const token = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  grants.set(token, grant);
  return token;
}

export function grantFor(token: string, now: number): Grant | undefined {
  const grant = grants.get(token);
  if (!grant) return undefined;
  if (now > grant.expiresAt) {
    grants.delete(token);
    return undefined;
  }
  return grant;
}

export function revokeGrant(token: string): void {
  grants.delete(token);
}

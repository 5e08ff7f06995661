import { PACKAGE_BUNDLES, PACKAGE_BUNDLES_INSTRUMENTED } from "../generated/package-bundles";

/** Where an operator changes the set; POLICY_VIOLATION messages name it. */
export const PACKAGE_SET_FILE = "packages.json";

export interface PackageInfo {
  name: string;
  version: string;
  why: string;
}

/**
 * The operator's package set as scripts/build-packages.mjs bundled it (worker/generated/, rebuilt by npm test, dev,
 * build and deploy). Each bundle is one ES module string; the loader receives only those a program imports.
 */
export const PACKAGE_SET: readonly PackageInfo[] = Object.entries(PACKAGE_BUNDLES).map(([name, { version, why }]) => ({ name, version, why }));

export const PACKAGES_INSTRUMENTED: boolean = PACKAGE_BUNDLES_INSTRUMENTED;

export function isPackageInSet(name: string): boolean {
  return Object.hasOwn(PACKAGE_BUNDLES, name);
}

/** The bundled ES module of a package in the set; undefined for anything else. */
export function packageBundle(name: string): string | undefined {
  return Object.hasOwn(PACKAGE_BUNDLES, name) ? PACKAGE_BUNDLES[name]?.code : undefined;
}

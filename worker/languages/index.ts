import type { Language } from "../../schemas/execute";
import { javascriptFamily } from "./javascript";
import type { LanguageRuntime } from "./language";
import { python } from "./python";

export type { LanguageRuntime, PrepareOutcome, SandboxProgram } from "./language";

/** One entry per language of schemas/execute.ts LANGUAGES; the compiler checks none is missing. */
const RUNTIMES: Record<Language, LanguageRuntime> = {
  javascript: javascriptFamily,
  typescript: javascriptFamily,
  python,
};

export function languageRuntime(language: Language): LanguageRuntime {
  return RUNTIMES[language];
}

// wrangler's default rules (and the test pool's) import .wasm files as compiled WebAssembly.Module objects.
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}

// wrangler's default rules import .html files as strings (the playground page).
declare module "*.html" {
  const text: string;
  export default text;
}

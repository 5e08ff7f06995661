// wrangler's default rules (and the test pool's) import .wasm files as compiled WebAssembly.Module objects.
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}

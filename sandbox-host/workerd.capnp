# A sandbox host on plain workerd (README, "Sandbox plane"). scripts/sandbox-plane.mjs starts one per host with
#   workerd serve sandbox-host/workerd.capnp -s http=127.0.0.1:0 -e front=127.0.0.1:<front port> \
#     -d language-assets=<repo>/python-assets --control-fd=3
# so the listening port is chosen by the kernel and reported on fd 3, the front's address is the only outside
# address the host knows, and the language files are the same directory the front serves as its ASSETS. workerd
# refuses to start when that directory does not exist, so the plane creates it (empty: Python runs then fail).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "host", worker = .hostWorker),
    # The front Worker: capability calls go back there, under the execution's token.
    (name = "front", external = (address = "127.0.0.1:8787", http = ())),
    # The host worker's fetch() reaches nothing; children have globalOutbound: null on top.
    (name = "no-network", network = (allow = [])),
    # Language files (python-assets/, built by scripts/build-python.mjs), read-only; host.js reads the files a
    # module set names from here, so binary modules never come from the network. Relative to the working
    # directory; the plane passes -d with an absolute path.
    (name = "language-assets", disk = (path = "python-assets", writable = false)),
  ],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "host")],
  # A memory bomb must kill this process quickly and predictably, long before it hurts the machine: V8 aborts
  # the process at this heap size ("Reached heap limit"), and the plane reports RESOURCE_LIMIT.
  v8Flags = ["--max-old-space-size=128", "--wasm-max-mem-pages=4096"],
);

const hostWorker :Workerd.Worker = (
  modules = [(name = "host.js", esModule = embed "host.js")],
  compatibilityDate = "2026-08-01",
  bindings = [
    (name = "LOADER", workerLoader = ()),
    (name = "FRONT", service = "front"),
    (name = "ASSETS", service = "language-assets"),
  ],
  globalOutbound = "no-network",
);

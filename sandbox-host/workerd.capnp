# A sandbox host on plain workerd (README, "Sandbox plane"). scripts/sandbox-plane.mjs starts one per host with
#   workerd serve sandbox-host/workerd.capnp -s http=127.0.0.1:0 -e front=127.0.0.1:<front port> --control-fd=3
# so the listening port is chosen by the kernel and reported on fd 3, and the front's address is the only
# outside address the host knows.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "host", worker = .hostWorker),
    # The front Worker: capability calls go back there, under the execution's token.
    (name = "front", external = (address = "127.0.0.1:8787", http = ())),
    # The host worker's fetch() reaches nothing; children have globalOutbound: null on top.
    (name = "no-network", network = (allow = [])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "host")],
  # A memory bomb must kill this process quickly and predictably, long before it hurts the machine: V8 aborts
  # the process at this heap size ("Reached heap limit"), and the plane reports RESOURCE_LIMIT.
  v8Flags = ["--max-old-space-size=128"],
);

const hostWorker :Workerd.Worker = (
  modules = [(name = "host.js", esModule = embed "host.js")],
  compatibilityDate = "2026-08-01",
  bindings = [
    (name = "LOADER", workerLoader = ()),
    (name = "FRONT", service = "front"),
  ],
  globalOutbound = "no-network",
);

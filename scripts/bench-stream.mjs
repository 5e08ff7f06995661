#!/usr/bin/env node
// npm run bench:stream: how fast streamed runs react, against a local `wrangler dev` on a random loopback port.
//
//   first log   SSE: the time from sending the request to the first `log` event of a program that logs, then
//               sleeps 500 ms, against the time to its `result` (the log must come first and early).
//   cancel      WebSocket: the time from sending { type: "cancel" } to the `result` event (status cancelled), for
//               a program that awaits in a loop, one that logs in a loop, and one that never yields (while (true)).
//
// Options (environment): BENCH_STREAM_RUNS (runs per measure, default 20). Everything started is stopped on exit.

import { startLocalService } from "./local-service.mjs";

const RUNS = Number(process.env.BENCH_STREAM_RUNS ?? 20);
const CANCEL_AFTER_MS = 150;

/** Each with its timeout: the sync loop cannot be interrupted locally (see the README), so it ends at its timeout. */
const PROGRAMS = {
  awaiting: { code: "for (;;) { await new Promise((r) => setTimeout(r, 10)); }", timeoutMs: 10_000 },
  logging: { code: "for (let i = 0; ; i++) { console.log('tick', i); await new Promise((r) => setTimeout(r, 5)); }", timeoutMs: 10_000 },
  "sync loop": { code: "console.log('spinning'); while (true) {}", timeoutMs: 1_000 },
};

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const round = (ms) => Math.round(ms * 10) / 10;
const summary = (values) => ({ p50: round(percentile(values, 50)), p95: round(percentile(values, 95)), max: round(Math.max(...values)) });

/** SSE frames of a fetch response, as they arrive. */
async function* sse(response) {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of response.body) {
    buffered += decoder.decode(chunk, { stream: true });
    for (let end = buffered.indexOf("\n\n"); end >= 0; end = buffered.indexOf("\n\n")) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      if (event) yield event;
    }
  }
}

async function firstLog(url) {
  const started = performance.now();
  const response = await fetch(`${url}/execute`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify({ code: "console.log('first'); await new Promise((r) => setTimeout(r, 500)); return 1" }),
  });
  let logMs;
  for await (const event of sse(response)) {
    if (event === "log" && logMs === undefined) logMs = performance.now() - started;
    if (event === "result") return { logMs, resultMs: performance.now() - started };
  }
  throw new Error("the stream ended without a result");
}

/** Opens a socket, runs `code`, cancels CANCEL_AFTER_MS after `start`; answers cancel -> result in ms, and the status. */
function cancelLatency(url, { code, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${url.replace(/^http/, "ws")}/execute/ws`);
    let cancelledAt;
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "execute", code, config: { timeout: timeoutMs } })));
    socket.addEventListener("message", (message) => {
      const event = JSON.parse(message.data);
      if (event.type === "start") {
        setTimeout(() => {
          cancelledAt = performance.now();
          socket.send(JSON.stringify({ type: "cancel" }));
        }, CANCEL_AFTER_MS);
      } else if (event.type === "result") {
        socket.close();
        resolve({ ms: performance.now() - cancelledAt, status: event.data.status });
      } else if (event.type === "error") reject(new Error(JSON.stringify(event.data)));
    });
    socket.addEventListener("error", () => reject(new Error("socket error")));
  });
}

async function main() {
  const service = await startLocalService({ label: "bench-stream", args: ["--log-level", "warn"] });
  try {
    for (let i = 0; i < 3; i++) await firstLog(service.url);
    const logs = [];
    const results = [];
    for (let i = 0; i < RUNS; i++) {
      const { logMs, resultMs } = await firstLog(service.url);
      logs.push(logMs);
      results.push(resultMs);
    }
    console.log(`SSE, a program that logs then sleeps 500 ms (${RUNS} runs): first log ${JSON.stringify(summary(logs))} ms, result ${JSON.stringify(summary(results))} ms`);
    for (const [name, program] of Object.entries(PROGRAMS)) {
      const latencies = [];
      const statuses = {};
      for (let i = 0; i < RUNS; i++) {
        const { ms, status } = await cancelLatency(service.url, program);
        latencies.push(ms);
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
      console.log(`WebSocket cancel -> result, ${name}, timeout ${program.timeoutMs} ms (${RUNS} runs): ${JSON.stringify(summary(latencies))} ms, statuses ${JSON.stringify(statuses)}`);
    }
  } finally {
    await service.stop();
  }
}

await main();

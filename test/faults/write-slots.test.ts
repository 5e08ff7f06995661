import { describe, expect, it } from "vitest";
import { configureWriteSlots, withWriteSlot } from "../../worker/history/write-slots";

// History writes are limited per isolate, because local wrangler dev loses its runtime under many concurrent D1
// queries (worker/history/write-slots.ts). The limit must never deadlock or leak a slot.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("history write slots", () => {
  it("runs every write, never more than the configured four at once", async () => {
    configureWriteSlots("4");
    let running = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        withWriteSlot(async () => {
          peak = Math.max(peak, ++running);
          await sleep(2);
          running--;
          return i;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(peak).toBe(4);
  });

  it("gives the slot back when a write fails", async () => {
    const failures = await Promise.allSettled(Array.from({ length: 10 }, () => withWriteSlot(() => Promise.reject(new Error("D1 down")))));
    expect(failures.every((f) => f.status === "rejected")).toBe(true);
    await expect(withWriteSlot(async () => "still writable")).resolves.toBe("still writable");
  });

  it("does not limit writes when the var is unset", async () => {
    configureWriteSlots(undefined);
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 12 }, () =>
        withWriteSlot(async () => {
          peak = Math.max(peak, ++running);
          await sleep(2);
          running--;
        }),
      ),
    );
    expect(peak).toBe(12);
  });
});

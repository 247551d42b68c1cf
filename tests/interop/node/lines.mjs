// JSON lines between a Node peer and the pytest process that drives it.
//
// Commands arrive on stdin, one JSON object per line; reports leave on stdout, one
// JSON object per line. Bytes cannot travel in JSON, so both sides spell a Buffer
// as {"$bytes": "<base64>"}, nested anywhere.
import { createInterface } from "node:readline";

export function toWire(value) {
  if (Buffer.isBuffer(value)) return { $bytes: value.toString("base64") };
  if (value instanceof ArrayBuffer) return toWire(Buffer.from(value));
  if (ArrayBuffer.isView(value)) {
    return toWire(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }
  if (Array.isArray(value)) return value.map(toWire);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v)]));
  }
  return value;
}

export function fromWire(value) {
  if (Array.isArray(value)) return value.map(fromWire);
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$bytes") return Buffer.from(value.$bytes, "base64");
    return Object.fromEntries(keys.map((k) => [k, fromWire(value[k])]));
  }
  return value;
}

export function report(message) {
  process.stdout.write(JSON.stringify(toWire(message)) + "\n");
}

// Run `handle(command)` for each stdin line; a failing command is reported, not fatal.
// When stdin closes (the test ended or died), `onEnd` runs and the process exits.
export function serve(handle, onEnd) {
  const lines = createInterface({ input: process.stdin });
  lines.on("line", async (line) => {
    if (!line.trim()) return;
    let command;
    try {
      command = fromWire(JSON.parse(line));
      await handle(command);
    } catch (err) {
      report({ type: "reply", id: command?.id ?? null, ok: false, error: String(err?.message ?? err) });
    }
  });
  lines.on("close", async () => {
    await onEnd();
    process.exit(0);
  });
}

// Split an event's arguments into the data and the ack callback, if the peer asked for one.
export function splitAck(args) {
  const last = args[args.length - 1];
  return typeof last === "function" ? [args.slice(0, -1), last] : [args, null];
}

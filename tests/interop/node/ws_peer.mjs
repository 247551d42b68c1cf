// A plain `ws` peer (no Socket.IO) with permessage-deflate and a 1024-byte threshold,
// for tests/interop/test_node_compression.py.
//
//   node ws_peer.mjs server            echoes every message; prints {"type":"listening","port":N}
//   node ws_peer.mjs client URL SIZES  sends one text and one binary message of each size
//                                      (comma-separated), checks each echo, reports
//                                      {"type":"echo","kind","size","same"}, then {"type":"done"}
//
// Messages are chat-like text (repeated words), so compressed ones are clearly smaller.
// The server runs until stdin closes.
//
// ws applies its threshold only where the sender keeps no context between messages
// (small messages compress well against recent ones otherwise), so each side here
// asks for no context takeover on its own messages.
import { WebSocket, WebSocketServer } from "ws";
import { report, serve } from "./lines.mjs";

const [mode, url, sizes] = process.argv.slice(2);

export function message(size) {
  const words = "the quick brown fox jumps over the lazy dog and says hello ";
  return words.repeat(Math.ceil(size / words.length)).slice(0, size);
}

if (mode === "server") {
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate: { threshold: 1024, serverNoContextTakeover: true },
  });
  wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
  wss.on("listening", () => report({ type: "listening", port: wss.address().port }));
  serve(async () => {}, async () => wss.close());
} else {
  const ws = new WebSocket(url, {
    perMessageDeflate: { threshold: 1024, clientNoContextTakeover: true },
  });
  const queue = sizes.split(",").flatMap((s) => [["text", Number(s)], ["binary", Number(s)]]);
  let current = null;
  const next = () => {
    current = queue.shift();
    if (current === undefined) {
      report({ type: "done" });
      ws.close(1000);
      return;
    }
    const [kind, size] = current;
    const text = message(size);
    ws.send(kind === "text" ? text : Buffer.from(text), { binary: kind === "binary" });
  };
  ws.on("open", next);
  ws.on("message", (data, isBinary) => {
    const [kind, size] = current;
    const same = isBinary === (kind === "binary") && data.toString() === message(size);
    report({ type: "echo", kind, size, same });
    next();
  });
  ws.on("error", (err) => report({ type: "error", message: String(err.message) }));
  ws.on("close", () => process.exit(0));
}

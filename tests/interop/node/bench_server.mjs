// Node's socket.io 4.x as a server under test for `python -m wslearn bench`.
//
//   node bench_server.mjs '{"pingInterval":5000,"pingTimeout":10000}'
//
// It serves the same events as wslearn/bench/serve.py, on the WebSocket transport:
//   "echo"    sends the event back to its sender;
//   "fanout"  sends the event to every connected client (io.emit), sender included.
// When listening it prints one JSON line: {"kind","pid","port","file","version","node"}.
// It exits when its stdin closes (the runner ended or died).
import { createRequire } from "node:module";
import { createServer } from "node:http";
import { Server } from "socket.io";

const require = createRequire(import.meta.url);
const options = JSON.parse(process.argv[2] ?? "{}");
const http = createServer();
const io = new Server(http, { ...options, transports: ["websocket"] });

io.on("connection", (socket) => {
  socket.on("echo", (data) => socket.emit("echo", data));
  socket.on("fanout", (data) => io.emit("fanout", data));
});

process.stdin.on("end", () => process.exit(0));
process.stdin.resume();

http.listen(0, "127.0.0.1", () => {
  const manifest = require.resolve("socket.io/package.json");
  process.stdout.write(
    JSON.stringify({
      kind: "node-socketio",
      pid: process.pid,
      port: http.address().port,
      file: manifest,
      version: require(manifest).version,
      node: process.version,
    }) + "\n",
  );
});

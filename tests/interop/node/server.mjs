// A socket.io 4.x server peer for wslearn.Client, driven over stdin/stdout JSON lines.
//
//   node server.mjs [PORT [OPTIONS_JSON]]   prints {"type":"listening","port":N}
//
// OPTIONS_JSON adds socket.io Server options, e.g. {"pingInterval":100};
// {"parser":"msgpack"} uses socket.io-msgpack-parser instead of the default parser.
//
// What it serves, on "/" and "/chat" (any other namespace is refused by socket.io):
//   "echo"      acks with the arguments it received (binary included)
//   "join-room" joins the room, then acks ("joined", room)
//   connects    are reported: {"type":"connect","ns","id","auth","recovered"}
//   any event   is reported: {"type":"event","ns","id","event","args"}
//   "/private"  has a middleware that refuses unless auth.token is "good" and
//               reports each refusal: {"type":"refused","ns","auth"}
//   on connect  emits "welcome" with auth.greeting, when the client sent one
// Commands: {"op":"emit","ns","to","event","args"} (to: a socket id, a room or absent),
//   {"op":"call","id","ns","sid","event","args","timeout"} (emitWithAck to one socket),
//   {"op":"kick","ns","sid"} (socket.disconnect(true)).
import { createServer } from "node:http";
import { Server } from "socket.io";
import msgpackParser from "socket.io-msgpack-parser";
import { report, serve, splitAck } from "./lines.mjs";

const http = createServer();
const options = JSON.parse(process.argv[3] ?? "{}");
if (options.parser === "msgpack") options.parser = msgpackParser;
const io = new Server(http, { ...options, transports: ["websocket"] });

function install(nsp) {
  nsp.on("connection", (socket) => {
    const { id, recovered } = socket;
    report({ type: "connect", ns: nsp.name, id, auth: socket.handshake.auth, recovered });
    const greeting = socket.handshake.auth?.greeting;
    if (greeting !== undefined) socket.emit("welcome", greeting);
    socket.onAny((event, ...received) => {
      const [args, ack] = splitAck(received);
      report({ type: "event", ns: nsp.name, id: socket.id, event, args });
      if (ack === null) return;
      if (event === "echo") ack(...args);
      else if (event === "join-room") {
        socket.join(args[0]);
        ack("joined", args[0]);
      }
    });
    socket.on("disconnect", (reason) =>
      report({ type: "disconnect", ns: nsp.name, id: socket.id, reason }),
    );
  });
}

install(io.of("/"));
install(io.of("/chat"));
const priv = io.of("/private");
priv.use((socket, next) => {
  if (socket.handshake.auth?.token === "good") return next();
  report({ type: "refused", ns: "/private", auth: socket.handshake.auth });
  const err = new Error("Not authorized");
  err.data = { hint: "send a token" };
  next(err);
});
install(priv);

function socketOf(ns, sid) {
  const socket = io.of(ns).sockets.get(sid);
  if (socket === undefined) throw new Error(`no socket ${sid} on ${ns}`);
  return socket;
}

serve(
  async (command) => {
    const { op, id, ns = "/" } = command;
    if (op === "emit") {
      const target = command.to === undefined ? io.of(ns) : io.of(ns).to(command.to);
      target.emit(command.event, ...(command.args ?? []));
    } else if (op === "call") {
      // All the ack's arguments (emitWithAck would keep only the first).
      const socket = socketOf(ns, command.sid).timeout(command.timeout ?? 5000);
      socket.emit(command.event, ...(command.args ?? []), (err, ...result) =>
        report(err ? { type: "reply", id, ok: false, error: err.message } : { type: "reply", id, ok: true, result }),
      );
      return;
    } else if (op === "kick") socketOf(ns, command.sid).disconnect(true);
    else throw new Error(`unknown op ${op}`);
    if (id !== undefined) report({ type: "reply", id, ok: true });
  },
  async () => {
    io.close();
  },
);

http.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () =>
  report({ type: "listening", port: http.address().port }),
);

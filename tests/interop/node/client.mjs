// A socket.io-client 4.x peer for wslearn.Server, driven over stdin/stdout JSON lines.
//
//   node client.mjs http://127.0.0.1:PORT
//
// Commands (each may carry an "id"; commands that finish later answer with
// {"type":"reply","id":..,"ok":..}):
//   {"op":"open","name":"a","ns":"/chat","auth":{..}}   io(URL + ns, ...): a new connection
//   {"op":"open","name":"b","ns":"/chat","via":"a"}     another namespace on a's connection
//   {"op":"open","name":"c","url":"http://.."}          a connection to another URL (a proxy)
//   {"op":"open","name":"d","parser":"msgpack"}         with socket.io-msgpack-parser
//   {"op":"listen","name":"a","event":"e","reply":[..]} report "e"; ack with reply (default: echo)
//   {"op":"emit","name":"a","event":"e","args":[..]}
//   {"op":"call","id":1,"name":"a","event":"e","args":[..],"timeout":ms,"all":false}
//       emitWithAck with a timeout: the ack's first argument, or all of them with "all"
//   {"op":"connect","name":"a"} / {"op":"close","name":"a"}
// Reports: connect {id, recovered}, connect_error {message, data}, disconnect {reason},
// reconnect {attempt}, event {event, args}; every report names its socket.
import { io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";
import { report, serve, splitAck } from "./lines.mjs";

const url = process.argv[2];
const sockets = new Map();

function open({ name, ns = "/", auth, via, url: base = url, reconnection = true, parser }) {
  let socket;
  if (via === undefined) {
    // A new connection (its own Manager), the way an application calls io().
    const options = {
      forceNew: true,
      transports: ["websocket"],
      reconnection,
      reconnectionDelay: 50,
      reconnectionDelayMax: 200,
    };
    if (auth !== undefined) options.auth = auth;
    if (parser === "msgpack") options.parser = msgpackParser;
    socket = io(base + (ns === "/" ? "" : ns), options);
  } else {
    // Another namespace on the connection of socket `via`: what io(url + ns) does
    // when a Manager for that URL exists already (multiplexing).
    socket = socketOf(via).io.socket(ns, auth === undefined ? {} : { auth });
  }
  sockets.set(name, socket);
  socket.on("connect", () =>
    report({ type: "connect", name, id: socket.id, recovered: socket.recovered }),
  );
  socket.on("connect_error", (err) =>
    report({ type: "connect_error", name, message: err.message, data: err.data ?? null }),
  );
  socket.on("disconnect", (reason) => report({ type: "disconnect", name, reason }));
  if (via === undefined) {
    socket.io.on("reconnect", (attempt) => report({ type: "reconnect", name, attempt }));
  }
}

function socketOf(name) {
  const socket = sockets.get(name);
  if (socket === undefined) throw new Error(`no socket named ${name}`);
  return socket;
}

serve(
  async (command) => {
    const { op, id, name } = command;
    if (op === "open") open(command);
    else if (op === "listen") {
      socketOf(name).on(command.event, (...received) => {
        const [args, ack] = splitAck(received);
        report({ type: "event", name, event: command.event, args, acked: ack !== null });
        if (ack !== null) ack(...(command.reply ?? args));
      });
    } else if (op === "emit") socketOf(name).emit(command.event, ...(command.args ?? []));
    else if (op === "call") {
      // emitWithAck resolves with the ack's first argument only; "all" asks for every one.
      const socket = socketOf(name).timeout(command.timeout ?? 5000);
      const args = command.args ?? [];
      const result = command.all
        ? await new Promise((resolve, reject) =>
            socket.emit(command.event, ...args, (err, ...res) => (err ? reject(err) : resolve(res))),
          )
        : await socket.emitWithAck(command.event, ...args);
      report({ type: "reply", id, ok: true, result });
      return;
    } else if (op === "connect") socketOf(name).connect();
    else if (op === "close") socketOf(name).disconnect();
    else throw new Error(`unknown op ${op}`);
    if (id !== undefined) report({ type: "reply", id, ok: true });
  },
  async () => {
    for (const socket of sockets.values()) socket.disconnect();
  },
);

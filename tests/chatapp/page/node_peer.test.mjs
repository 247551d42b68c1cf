// The page's Socket.IO client against Node's official socket.io 4.x server: HTTP
// long-polling first, then the WebSocket upgrade, acks both ways, namespaces and auth,
// refusals, kicks, and reconnection after the server goes away.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Manager } from "../../../wslearn/chatapp/page/socketio.mjs";
import { nodeSocketIO, waitFor } from "./helpers.mjs";

const sio = nodeSocketIO();
const skip = sio ? false : "Node's socket.io is not installed: run `make node-peers`";
const FAST = { reconnectionDelay: 50, reconnectionDelayMax: 200, randomizationFactor: 0 };
let io;
let url;
const managers = [];

function listen(port = 0, options = {}) {
  const server = new sio.Server(port, { pingInterval: 300, pingTimeout: 200, ...options });
  return new Promise((resolve) => {
    const ready = () => resolve(server);
    if (server.httpServer.listening) ready();
    else server.httpServer.on("listening", ready);
  });
}

function setup(server) {
  server.on("connection", (socket) => {
    socket.on("echo", (value, ack) => ack(value));
    socket.on("ask-me", async (question, ack) => {
      const answer = await socket.timeout(10000).emitWithAck("question", question);
      ack(answer);
    });
    socket.on("kick-me", () => socket.disconnect());
    socket.emit("hello", "from node");
  });
  server.of("/private").use((socket, next) => {
    if (socket.handshake.auth.token === "secret") next();
    else next(Object.assign(new Error("Not authorized"), { data: { reason: "bad token" } }));
  });
  server.of("/private").on("connection", (socket) => socket.emit("welcome", socket.handshake.auth.token));
}

function manager(options = {}) {
  const made = new Manager(url, { ...FAST, ...options });
  managers.push(made);
  return made;
}

before(async () => {
  if (skip) return;
  io = await listen();
  setup(io);
  url = `http://127.0.0.1:${io.httpServer.address().port}`;
});

after(() => {
  for (const made of managers) made.close();
  io?.close();
});

test("it starts on long-polling, upgrades to WebSocket and keeps talking", { skip }, async () => {
  const m = manager();
  const transports = [];
  m.on("transport", (name) => transports.push(name));
  const socket = m.socket("/");
  const hello = new Promise((resolve) => socket.on("hello", resolve));
  socket.connect();
  assert.equal(await hello, "from node");
  assert.deepEqual(await socket.timeout(10000).emitWithAck("echo", { on: "polling?" }), { on: "polling?" });
  await waitFor(() => m.transport === "websocket", 5000, "the upgrade");
  assert.deepEqual(transports, ["polling", "websocket"]);
  assert.equal(await socket.timeout(10000).emitWithAck("echo", "after the upgrade"), "after the upgrade");
  // The heartbeat (300 + 200 ms) keeps the session up well past one interval.
  await new Promise((resolve) => setTimeout(resolve, 900));
  assert.equal(socket.connected, true);
  assert.equal(await socket.timeout(10000).emitWithAck("echo", 3), 3);
});

test("WebSocket-only mode never polls", { skip }, async () => {
  const m = manager({ transports: ["websocket"] });
  const transports = [];
  m.on("transport", (name) => transports.push(name));
  const socket = m.socket("/").connect();
  await waitFor(() => socket.connected, 5000, "connect");
  assert.deepEqual(transports, ["websocket"]);
  assert.equal(await socket.timeout(10000).emitWithAck("echo", "ws"), "ws");
});

test("emits made before connecting are buffered, and the server's acks come back", { skip }, async () => {
  const socket = manager().socket("/");
  socket.on("question", (question, ack) => ack(`answer to ${question}`));
  const early = socket.timeout(10000).emitWithAck("echo", "buffered");
  socket.connect();
  assert.equal(await early, "buffered");
  assert.equal(await socket.timeout(10000).emitWithAck("ask-me", "life"), "answer to life");
});

test("a namespace takes auth, and a refusal is not retried", { skip }, async () => {
  const m = manager();
  const good = m.socket("/private", { auth: () => ({ token: "secret" }) });
  const welcome = new Promise((resolve) => good.on("welcome", resolve));
  good.connect();
  assert.equal(await welcome, "secret");
  const bad = manager().socket("/private", { auth: { token: "wrong" } });
  const refused = new Promise((resolve) => bad.on("connect_error", resolve));
  bad.connect();
  const error = await refused;
  assert.equal(error.message, "Not authorized");
  assert.deepEqual(error.data, { reason: "bad token" });
  assert.equal(bad.active, false);
  assert.equal(good.connected, true);
});

test("a kick ends the socket without a reconnection", { skip }, async () => {
  const m = manager();
  const socket = m.socket("/").connect();
  await waitFor(() => socket.connected);
  const reason = new Promise((resolve) => socket.on("disconnect", resolve));
  socket.emit("kick-me");
  assert.equal(await reason, "io server disconnect");
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(socket.connected, false);
  assert.equal(socket.active, false);
});

test("when the server goes away it reconnects by itself, polling then upgrading again", { skip }, async () => {
  const first = await listen(0);
  setup(first);
  const port = first.httpServer.address().port;
  const m = new Manager(`http://127.0.0.1:${port}`, FAST);
  managers.push(m);
  const socket = m.socket("/").connect();
  await waitFor(() => m.transport === "websocket", 5000, "the first upgrade");
  const reasons = [];
  socket.on("disconnect", (reason) => reasons.push(reason));
  let attempts = 0;
  m.on("reconnect_attempt", () => attempts++);
  first.close();
  await waitFor(() => reasons.length === 1 && attempts >= 1, 5000, "the disconnect");
  assert.equal(reasons[0], "transport close");
  const again = await listen(port);
  setup(again);
  try {
    await waitFor(() => socket.connected && m.transport === "websocket", 8000, "the reconnection");
    assert.equal(await socket.timeout(10000).emitWithAck("echo", "back"), "back");
  } finally {
    m.close();
    again.close();
  }
});

test("long-polling alone works too (no upgrade)", { skip }, async () => {
  const m = manager({ transports: ["polling"] });
  const transports = [];
  m.on("transport", (name) => transports.push(name));
  const socket = m.socket("/").connect();
  await waitFor(() => socket.connected, 5000, "connect");
  assert.equal(await socket.timeout(10000).emitWithAck("echo", "polled"), "polled");
  await new Promise((resolve) => setTimeout(resolve, 700)); // heartbeats over polling
  assert.equal(await socket.timeout(10000).emitWithAck("echo", "still"), "still");
  assert.deepEqual(transports, ["polling"]);
});

test("a half-open link (nothing arrives, nothing closes) is noticed by the heartbeat", { skip }, async () => {
  // A TCP relay that can stop forwarding without closing anything.
  const net = await import("node:net");
  const target = io.httpServer.address().port;
  let paused = false;
  const held = [];
  const relay = net.createServer((downstream) => {
    const upstream = net.connect(target, "127.0.0.1");
    const pipe = (from, to) => from.on("data", (chunk) => (paused ? held.push(chunk) : to.write(chunk)));
    pipe(downstream, upstream);
    pipe(upstream, downstream);
    const end = () => { downstream.destroy(); upstream.destroy(); };
    downstream.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise((resolve) => relay.listen(0, "127.0.0.1", resolve));
  try {
    const m = new Manager(`http://127.0.0.1:${relay.address().port}`, { ...FAST, transports: ["websocket"] });
    managers.push(m);
    const socket = m.socket("/").connect();
    await waitFor(() => socket.connected, 5000, "connect");
    const reason = new Promise((resolve) => socket.on("disconnect", resolve));
    paused = true;
    assert.equal(await reason, "ping timeout"); // the client's own deadline, not a close
    paused = false;
    await waitFor(() => socket.connected, 8000, "the reconnection after the link came back");
    m.close();
  } finally {
    relay.close();
  }
});

// The page's script against a real wslearn chat server (`python -m wslearn chat`,
// started by the test): its Socket.IO client, then the whole ChatSession.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { ChatSession } from "../../../wslearn/chatapp/page/chat.mjs";
import { Manager } from "../../../wslearn/chatapp/page/socketio.mjs";
import { startChatServer, waitFor } from "./helpers.mjs";

const FAST = { reconnectionDelay: 50, reconnectionDelayMax: 300, randomizationFactor: 0 };
let server;
const closers = [];

before(async () => {
  server = await startChatServer({ pingInterval: 0.3, pingTimeout: 0.3 });
});

after(async () => {
  for (const close of closers) close();
  assert.equal(await server.stop(), 0);
  assert.equal(server.stderr(), "");
});

function session(url = server.url, options = {}) {
  const made = new ChatSession(url, { ...FAST, ...options });
  closers.push(() => made.manager.close());
  return made;
}

const texts = (s, room) => s.lines(room).map((line) => line.text);

test("over WebSocket only: sign in on '/', then /chat with the token", async () => {
  const m = new Manager(server.url, { ...FAST, transports: ["websocket"] });
  closers.push(() => m.close());
  const door = m.socket("/").connect();
  const reply = await door.timeout(5000).emitWithAck("sign-in", { name: "Wire" });
  assert.equal(reply.user.name, "Wire");
  const chat = m.socket("/chat", { auth: () => ({ token: reply.token }) }).connect();
  const rooms = await chat.timeout(5000).emitWithAck("rooms");
  assert.ok(rooms.rooms.some((room) => room.id === "lobby"));
  assert.equal(m.transport, "websocket");
  // The heartbeat (0.3 + 0.3 s) keeps it up, the client answering every ping.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(chat.connected, true);
  m.close();
});

test("without a token /chat refuses, naming the reason, and is not retried", async () => {
  const m = new Manager(server.url, { ...FAST, transports: ["websocket"] });
  closers.push(() => m.close());
  const chat = m.socket("/chat", { auth: { token: "forged" } });
  const refused = new Promise((resolve) => chat.on("connect_error", resolve));
  chat.connect();
  const error = await refused;
  assert.match(error.message, /authentication failed: the token is not a well-formed JWT/);
  assert.deepEqual(error.data, { reason: "malformed" });
  assert.equal(chat.active, false);
  m.close();
});

test("with the default transports it connects (and ends on WebSocket)", async () => {
  const m = new Manager(server.url, { ...FAST, tryAllTransports: true });
  closers.push(() => m.close());
  const door = m.socket("/").connect();
  const reply = await door.timeout(5000).emitWithAck("sign-in", { name: "Default" });
  assert.ok(reply.token);
  await waitFor(() => m.transport === "websocket", 5000, "the WebSocket");
  m.close();
});

test("two sessions chat: messages both ways, ticks, presence, typing, rooms, unread", async (t) => {
  // A server of its own: "delivered" waits for every member of the lobby, and the
  // users of the tests above are members who left.
  const own = await startChatServer();
  t.after(() => own.stop());
  const alice = session(own.url);
  const bob = session(own.url);
  await alice.signIn("Alice");
  await bob.signIn("Bob");
  const online = () => alice.room()?.presence.map((u) => u.name).join(",");
  await waitFor(() => online() === "Alice,Bob", 5000, "presence");

  alice.send("hi Bob");
  assert.equal(alice.lines().at(-1).status, "queued");
  await waitFor(() => texts(bob).includes("hi Bob"), 5000, "Bob to receive");
  await waitFor(() => alice.lines().at(-1).status === "delivered", 5000, "the delivered tick");
  bob.send("hi Alice <script>");
  await waitFor(() => texts(alice).includes("hi Alice <script>"), 5000, "Alice to receive");

  bob.keystroke();
  await waitFor(() => alice.typists().includes("Bob"), 5000, "Bob typing");
  bob.send("done");
  await waitFor(() => alice.typists().length === 0, 5000, "typing to clear on send");

  const created = await alice.join("js-room", { create: true });
  assert.equal(created.room.id, "js-room");
  await waitFor(() => bob.roomList.some((room) => room.id === "js-room"), 5000, "the room list");
  await bob.join("js-room");
  await bob.show("lobby");
  await alice.show("js-room");
  alice.send("in js-room");
  await waitFor(() => bob.room("js-room")?.unread === 1, 5000, "an unread count");
  await bob.show("js-room");
  assert.equal(bob.room("js-room").unread, 0);
  assert.deepEqual(texts(bob, "js-room"), ["in js-room"]);
});

test("a server restart mid-conversation: both reconnect by themselves, nothing typed is lost", async () => {
  const own = await startChatServer({ pingInterval: 0.3, pingTimeout: 0.3 });
  const alice = session(own.url);
  const bob = session(own.url);
  await alice.signIn("Ann");
  await bob.signIn("Ben");
  alice.send("before the restart");
  await waitFor(() => alice.lines().at(-1)?.status === "delivered", 5000, "delivered");
  const { port } = own;
  assert.equal(await own.stop(), 0);
  await waitFor(() => !alice.chat.connected && !bob.chat.connected, 5000, "both to notice");
  assert.equal(alice.connection.state, "reconnecting");
  alice.send("during the outage");
  assert.equal(alice.lines().at(-1).status, "queued");
  const again = await startChatServer({ port, pingInterval: 0.3, pingTimeout: 0.3 });
  try {
    // A new process: the old tokens' key is gone, so they sign in again by name, and
    // its rooms start afresh (another epoch). The queued message goes out once.
    await waitFor(() => texts(bob).includes("during the outage"), 15000, "the queued message");
    // Acked by the new process. (Whether it is also "delivered" depends on whether Ben
    // signed in again, and so became a member, before it arrived: a new process
    // forgot the memberships too. The in-process restart tests check "delivered".)
    await waitFor(() => alice.lines().at(-1).status !== "queued", 5000, "its tick");
    assert.deepEqual(texts(bob), ["during the outage"]);
    assert.equal(alice.connection.state, "connected");
  } finally {
    alice.manager.close();
    bob.manager.close();
    assert.equal(await again.stop(), 0);
  }
});

test("a late joiner gets the last page, loads earlier ones, and two tabs are one person", async (t) => {
  const own = await startChatServer({ limits: false }); // 60 messages at once
  t.after(() => own.stop());
  const writer = session(own.url);
  await writer.signIn("Writer");
  for (let n = 1; n <= 60; n++) writer.send(`m${n}`);
  await waitFor(() => writer.outbox.length === 0 && writer.lines().length === 60, 10000, "60 stored");
  const reader = session(own.url);
  await reader.signIn("Reader");
  await waitFor(() => reader.lines().length > 0, 5000, "the opening page");
  assert.equal(reader.lines().length, 50); // the page size
  assert.equal(reader.lines()[0].text, "m11");
  assert.equal(reader.room().hasMore, true);
  assert.equal(await reader.loadEarlier(), 10);
  assert.deepEqual(texts(reader), Array.from({ length: 60 }, (_, i) => `m${i + 1}`));
  assert.equal(reader.room().hasMore, false);
  // A second tab of the reader: still one person online.
  const tab = session(own.url);
  await tab.signIn("reader");
  await waitFor(() => writer.room().presence.length === 2, 5000, "presence");
  assert.deepEqual(writer.room().presence.map((u) => u.userId), ["reader", "writer"]);
});

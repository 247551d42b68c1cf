// The chat app's client logic, without the page: sign-in, rooms, messages with
// ticks, presence, typing, unread counts, and what happens across reconnections.
// app.mjs draws it; the Node tests drive it against a real server.
//
// Messages go out through a small outbox: each gets an id "<prefix>-<n>" and stays
// queued until the server acks it (the "sent" tick); after every reconnection the
// still-queued ones are sent again, oldest first, and the server applies each id
// once. The server's copy comes back as a "message" event (matched by clientId);
// "receipt" turns the tick to "delivered". After a reconnection the session asks
// "sync" for what it missed in each room and acknowledges ("delivered") what it has.

import { Emitter, Manager } from "./socketio.mjs";

export const TYPING_RENEW_MS = 2000; // while typing, say so again this often
export const TYPING_IDLE_MS = 3000; // no keystroke for this long: stopped typing
export const ACK_TIMEOUT_MS = 10000;

const MAX_AUTO_SIGN_INS = 3; // in a row, without a successful connection between

function randomPrefix() {
  const bytes = new Uint8Array(6);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class ChatSession extends Emitter {
  constructor(origin, { storage = null, ...options } = {}) {
    super();
    this.storage = storage; // sessionStorage in the page: a reload keeps the sign-in
    this.manager = new Manager(origin, { tryAllTransports: true, ...options });
    this.door = this.manager.socket("/");
    this.chat = this.manager.socket("/chat", { auth: () => ({ token: this.token }) });
    this.user = null; // {id, name}
    this.token = null;
    this.rooms = new Map(); // id -> {id, messages: Map(seq -> message), presence, typing, unread, hasMore}
    this.roomList = [];
    this.current = "lobby";
    this.epoch = null; // the server's memory, from its replies
    this.autoSignIns = 0;
    this.outbox = []; // {clientId, roomId, text, status}
    this.prefix = randomPrefix();
    this.counter = 0;
    this.errors = [];
    this.typingSince = 0;
    this.typingTimer = null;
    this.ackTimers = new Map();
    this.manager.on("state", () => this.changed());
    this.manager.on("transport", () => this.changed());
    this.manager.on("reconnect_attempt", (attempt, delay) => {
      this.nextAttempt = { attempt, delay, at: Date.now() };
      this.changed();
    });
    this.listen();
    const saved = storage?.getItem("wslearn-chat");
    if (saved) Object.assign(this, JSON.parse(saved));
  }

  // -- what the page shows ---------------------------------------------------------

  get connection() {
    const state = this.chat.connected ? "connected" : this.manager.state;
    return { state, transport: this.manager.transport, next: this.nextAttempt ?? null };
  }

  room(id = this.current) {
    return this.rooms.get(id) ?? null;
  }

  /** The current room's messages in seq order, then the ones still in the outbox. */
  lines(id = this.current) {
    const room = this.rooms.get(id);
    if (!room) return [];
    const stored = [...room.messages.values()].sort((a, b) => a.seq - b.seq).map((m) => ({
      ...m,
      mine: m.userId === this.user?.id,
    }));
    const pending = this.outbox
      .filter((m) => m.roomId === id)
      .map((m) => ({ ...m, name: this.user?.name ?? "", mine: true, seq: 0, timestamp: "" }));
    return [...stored, ...pending];
  }

  typists(id = this.current) {
    const room = this.rooms.get(id);
    return room ? room.typing.filter((u) => u.userId !== this.user?.id).map((u) => u.name) : [];
  }

  // -- actions -----------------------------------------------------------------------

  async signIn(name) {
    this.door.connect();
    const reply = await this.door.timeout(ACK_TIMEOUT_MS).emitWithAck("sign-in", { name });
    if (reply.error) {
      this.door.disconnect();
      throw new Error(reply.error.message);
    }
    this.token = reply.token;
    this.user = reply.user;
    this.storage?.setItem("wslearn-chat", JSON.stringify({ token: this.token, user: this.user }));
    this.start();
    this.door.disconnect();
    this.changed();
    return this.user;
  }

  /** Connect to /chat with the token held (after signIn, or a saved one). */
  start() {
    if (!this.chat.active) this.chat.connect();
  }

  signOut() {
    this.storage?.removeItem("wslearn-chat");
    this.chat.disconnect();
    this.manager.close();
    Object.assign(this, { user: null, token: null, outbox: [] });
    this.rooms.clear();
    this.changed();
  }

  send(text) {
    const entry = {
      clientId: `${this.prefix}-${++this.counter}`,
      roomId: this.current,
      text,
      status: "queued",
    };
    this.outbox.push(entry);
    this.stopTyping();
    if (this.chat.connected) this.transmit(entry);
    this.changed();
    return entry.clientId;
  }

  async show(id) {
    if (!this.rooms.get(id)?.opened) return this.join(id); // its history not loaded yet
    this.current = id;
    this.rooms.get(id).unread = 0;
    this.changed();
    return this.call("view-room", { roomId: id });
  }

  async join(id, { create = false } = {}) {
    const reply = await this.call(create ? "create-room" : "join-room", { roomId: id });
    if (reply.error) return reply;
    this.epoch = reply.epoch ?? this.epoch;
    const room = this.ensureRoom(id);
    room.opened = true;
    for (const message of reply.messages) room.messages.set(message.seq, message);
    Object.assign(room, { hasMore: reply.hasMore, presence: reply.presence, typing: reply.typing });
    this.current = id;
    room.unread = 0;
    await this.call("view-room", { roomId: id });
    this.acknowledge(id);
    this.changed();
    return reply;
  }

  async leave(id = this.current) {
    const reply = await this.call("leave-room", { roomId: id });
    if (!reply.error) this.forget(id);
    return reply;
  }

  async loadEarlier(id = this.current) {
    const room = this.rooms.get(id);
    const seqs = [...room.messages.keys()];
    const before = seqs.length ? Math.min(...seqs) : undefined;
    const reply = await this.call("history", { roomId: id, before });
    for (const message of reply.messages ?? []) room.messages.set(message.seq, message);
    room.hasMore = Boolean(reply.hasMore);
    this.changed();
    return (reply.messages ?? []).length;
  }

  async refreshRooms() {
    const reply = await this.call("rooms");
    this.roomList = reply.rooms ?? [];
    for (const summary of this.roomList) {
      // Rooms joined earlier (in another tab, before a reload) count unread too.
      const room = summary.joined ? this.ensureRoom(summary.id) : this.rooms.get(summary.id);
      if (room && summary.id !== this.current) room.unread = summary.unread;
    }
    this.changed();
    return this.roomList;
  }

  /** Call on every keystroke in the message box. */
  keystroke() {
    const now = Date.now();
    if (now - this.typingSince > TYPING_RENEW_MS) {
      this.typingSince = now;
      this.chat.emit("typing", { roomId: this.current, typing: true });
    }
    this.manager.timers.clearTimeout(this.typingTimer);
    this.typingTimer = this.manager.timers.setTimeout(() => this.stopTyping(true), TYPING_IDLE_MS);
  }

  stopTyping(tell = false) {
    this.manager.timers.clearTimeout(this.typingTimer);
    if (this.typingSince && tell && this.chat.connected) {
      this.chat.emit("typing", { roomId: this.current, typing: false });
    }
    this.typingSince = 0;
  }

  // -- the wire ----------------------------------------------------------------------

  listen() {
    const chat = this.chat;
    chat.on("connect", () => this.resync());
    chat.on("connect_error", (error) => this.refused(error));
    chat.on("disconnect", () => this.changed());
    chat.on("message", (message) => this.received(message));
    chat.on("receipt", ({ roomId, seq, status }) => {
      const message = this.rooms.get(roomId)?.messages.get(seq);
      if (message) message.status = status;
      this.changed();
    });
    chat.on("presence", ({ roomId, users }) => this.update(roomId, { presence: users }));
    chat.on("typing-users", ({ roomId, users }) => this.update(roomId, { typing: users }));
    chat.on("unread", ({ roomId, unread }) => this.update(roomId, { unread }));
    chat.on("room-created", () => this.refreshRooms());
    chat.on("left", ({ roomId }) => this.forget(roomId));
    chat.on("error", (error) => {
      this.errors.push(error?.message ?? String(error));
      this.changed();
    });
  }

  transmit(entry) {
    this.chat
      .timeout(ACK_TIMEOUT_MS)
      .emit("send-message", { roomId: entry.roomId, text: entry.text }, { _id: entry.clientId }, (error, ack) => {
        if (error) return; // no ack on this connection: sent again after reconnecting
        if (ack?.error?.rule === "rate limit") {
          this.retryLater(ack.error.retryAfter); // still queued: sent again, in order
          return;
        }
        if (ack?.error) {
          entry.status = "failed";
          entry.error = ack.error.message;
          this.errors.push(`not sent: ${ack.error.message}`);
        } else if (entry.status === "queued") {
          entry.status = "sent";
        }
        this.changed();
      });
  }

  retryLater(seconds) {
    if (this.retryTimer) return;
    this.retryTimer = this.manager.timers.setTimeout(() => {
      this.retryTimer = null;
      if (!this.chat.connected) return; // the next connect sends them anyway
      for (const entry of this.outbox) if (entry.status === "queued") this.transmit(entry);
    }, Math.max(50, Math.ceil((seconds ?? 1) * 1000)));
  }

  async resync() {
    this.nextAttempt = null;
    this.autoSignIns = 0;
    const wanted = {};
    for (const [id, room] of this.rooms) wanted[id] = Math.max(0, ...room.messages.keys());
    let reply = {};
    if (this.rooms.size) {
      reply = await this.call("sync", { rooms: wanted });
      this.epoch ??= reply.epoch ?? null;
      if (this.epoch && reply.epoch && reply.epoch !== this.epoch) {
        // A new server process: its rooms start again from seq 1. Start afresh too.
        this.rooms.clear();
        this.current = "lobby";
        this.epoch = reply.epoch;
      }
    }
    if (!this.rooms.size) {
      await this.join(this.current);
    } else {
      for (const [id, news] of Object.entries(reply.rooms ?? {})) {
        const room = this.ensureRoom(id);
        for (const message of news.messages) room.messages.set(message.seq, message);
        for (const seq of news.delivered) {
          const message = room.messages.get(seq);
          if (message) message.status = "delivered";
        }
        room.unread = id === this.current ? 0 : news.unread;
        for (const message of news.messages) this.settle(message);
      }
      if (reply.rooms) for (const id of Object.keys(wanted)) if (!(id in reply.rooms)) this.forget(id);
      await this.call("view-room", { roomId: this.current });
      for (const id of this.rooms.keys()) this.acknowledge(id);
    }
    for (const entry of this.outbox) if (entry.status === "queued") this.transmit(entry);
    await this.refreshRooms();
  }

  refused(error) {
    this.errors.push(`refused: ${error.message}`);
    // A token refused for a reason (expired, or signed by a server process that is
    // gone): sign in again with our name, a few times at most.
    if (error.data?.reason === "rate limit") {
      // Too many connection attempts: try again when the server says.
      const wait = Math.ceil((error.data.retryAfter ?? 1) * 1000);
      this.manager.timers.setTimeout(() => this.start(), wait);
    } else if (error.data?.reason && this.user && this.autoSignIns < MAX_AUTO_SIGN_INS) {
      this.autoSignIns += 1;
      this.signIn(this.user.name).catch((e) => this.errors.push(e.message));
    }
    this.changed();
  }

  received(message) {
    const room = this.ensureRoom(message.roomId);
    const last = Math.max(0, ...room.messages.keys());
    room.messages.set(message.seq, message);
    this.settle(message);
    const mine = message.userId === this.user?.id;
    if (message.roomId !== this.current && !mine) room.unread += 1;
    if (last && message.seq > last + 1) this.resync();
    else if (!mine) this.acknowledge(message.roomId);
    this.changed();
  }

  settle(message) {
    this.outbox = this.outbox.filter((entry) => entry.clientId !== message.clientId);
  }

  acknowledge(id) {
    // One "delivered" per room per burst of messages.
    if (this.ackTimers.has(id)) return;
    this.ackTimers.set(id, this.manager.timers.setTimeout(() => {
      this.ackTimers.delete(id);
      const room = this.rooms.get(id);
      if (!room || !room.messages.size || !this.chat.connected) return;
      this.chat.emit("delivered", { roomId: id, upTo: Math.max(...room.messages.keys()) });
    }, 20));
  }

  async call(event, payload) {
    let reply;
    try {
      reply = await this.chat.timeout(ACK_TIMEOUT_MS).emitWithAck(event, ...(payload === undefined ? [] : [payload]));
    } catch (error) {
      return { error: { message: error.message } };
    }
    if (reply?.error) {
      this.errors.push(reply.error.message);
      this.changed();
    }
    return reply ?? {};
  }

  ensureRoom(id) {
    if (!this.rooms.has(id)) {
      this.rooms.set(id, { id, messages: new Map(), presence: [], typing: [], unread: 0, hasMore: false });
    }
    return this.rooms.get(id);
  }

  update(id, fields) {
    const room = this.rooms.get(id);
    if (room) Object.assign(room, fields);
    this.changed();
  }

  forget(id) {
    this.rooms.delete(id);
    if (this.current === id) this.current = "lobby";
    this.changed();
  }

  changed() {
    this.fire("change");
  }
}

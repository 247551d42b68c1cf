// Socket.IO v5, client side, on the Engine.IO session of engine.mjs.
//
// A packet is <type>[<namespace>,][<ack id>][<JSON>] inside an Engine.IO MESSAGE:
// 40/chat,{"token":".."} connects to /chat, 42/chat,["event",...] is an event,
// 4212/chat,[..] an event asking for ack 12, 43/chat,12[..] the ack. A Manager owns
// the connection and reconnects after a transport failure with a growing, randomised
// delay; each Socket is one namespace on it and connects again, with fresh auth,
// after every reconnection. Emits made while disconnected wait in a buffer.
//
//   const manager = new Manager(location.origin);
//   const chat = manager.socket("/chat", { auth: () => ({ token }) });
//   chat.on("message", (m) => ...);
//   chat.connect();
//   const reply = await chat.timeout(5000).emitWithAck("rooms");

import { EngineSession, ProtocolError } from "./engine.mjs";

export { ProtocolError };

export const PacketType = Object.freeze({
  CONNECT: 0,
  DISCONNECT: 1,
  EVENT: 2,
  ACK: 3,
  CONNECT_ERROR: 4,
  BINARY_EVENT: 5,
  BINARY_ACK: 6,
});

/** Encode a packet {type, nsp, id, data} as the text after Engine.IO's "4". */
export function encodePacket({ type, nsp = "/", id, data }) {
  let text = String(type);
  if (nsp !== "/") text += nsp + ",";
  if (id !== undefined && id !== null) text += String(id);
  if (data !== undefined) text += JSON.stringify(data);
  return text;
}

/** Decode the text of one Socket.IO packet; throws ProtocolError when malformed. */
export function decodePacket(text) {
  const type = Number(text[0]);
  if (!(type >= 0 && type <= 6) || text[0] === undefined) {
    throw new ProtocolError(`unknown Socket.IO packet type in ${text.slice(0, 20)}`);
  }
  if (type === PacketType.BINARY_EVENT || type === PacketType.BINARY_ACK) {
    throw new ProtocolError("binary packets are not supported by this client");
  }
  let i = 1;
  let nsp = "/";
  if (text[i] === "/") {
    const comma = text.indexOf(",", i);
    if (comma < 0) throw new ProtocolError("namespace without a comma");
    nsp = text.slice(i, comma);
    i = comma + 1;
  }
  let digits = "";
  while (i < text.length && text[i] >= "0" && text[i] <= "9") digits += text[i++];
  const id = digits ? Number(digits) : undefined;
  let data;
  if (i < text.length) {
    try {
      data = JSON.parse(text.slice(i));
    } catch {
      throw new ProtocolError("packet payload is not JSON");
    }
  }
  if (type === PacketType.EVENT && !(Array.isArray(data) && typeof data[0] === "string")) {
    throw new ProtocolError("an EVENT payload is a non-empty array starting with its name");
  }
  if (type === PacketType.ACK && (!Array.isArray(data) || id === undefined)) {
    throw new ProtocolError("an ACK has an id and an array payload");
  }
  return { type, nsp, id, data };
}

/** Reconnection delays: min doubling up to max, each randomised by +/- jitter. */
export class Backoff {
  constructor({ min = 1000, max = 5000, factor = 2, jitter = 0.5, random = Math.random } = {}) {
    Object.assign(this, { min, max, factor, jitter, random });
    this.attempts = 0;
  }

  duration() {
    const base = Math.min(this.max, this.min * this.factor ** this.attempts++);
    const spread = base * this.jitter * (2 * this.random() - 1);
    return Math.max(0, Math.round(base + spread));
  }

  reset() {
    this.attempts = 0;
  }
}

export class Emitter {
  constructor() {
    this.listeners = new Map();
  }

  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, []);
    this.listeners.get(event).push(fn);
    return this;
  }

  off(event, fn) {
    const list = this.listeners.get(event) ?? [];
    this.listeners.set(event, fn ? list.filter((f) => f !== fn) : []);
    return this;
  }

  fire(event, ...args) {
    let first;
    for (const fn of [...(this.listeners.get(event) ?? [])]) {
      try {
        const result = fn(...args);
        if (first === undefined) first = result;
      } catch (error) {
        console.error(`a listener of ${event} failed`, error);
      }
    }
    return first;
  }
}

const RESERVED = new Set(["connect", "connect_error", "disconnect", "disconnecting"]);

/** One namespace on a Manager's connection. */
export class Socket extends Emitter {
  constructor(manager, nsp, { auth } = {}) {
    super();
    this.manager = manager;
    this.nsp = nsp;
    this.auth = auth;
    this.id = undefined;
    this.connected = false;
    this.active = false; // wants to be connected (reconnects after a failure)
    this.nextAck = 0;
    this.acks = new Map();
    this.buffer = [];
    this.flags = {};
  }

  connect() {
    this.active = true;
    this.manager.attach(this);
    return this;
  }

  disconnect() {
    if (this.connected) this.manager.write({ type: PacketType.DISCONNECT, nsp: this.nsp });
    this.active = false;
    this.manager.detach(this);
    if (this.connected) this.lost("io client disconnect");
    return this;
  }

  /** Emit an event; a function as last argument asks for an ack. */
  emit(event, ...args) {
    if (RESERVED.has(event)) throw new Error(`"${event}" is a reserved event name`);
    const packet = { type: PacketType.EVENT, nsp: this.nsp, data: [event, ...args] };
    const timeout = this.flags.timeout;
    this.flags = {};
    if (typeof args[args.length - 1] === "function") {
      const callback = packet.data.pop();
      const id = this.nextAck++;
      packet.id = id;
      let timer;
      if (timeout !== undefined) {
        timer = this.manager.timers.setTimeout(() => {
          this.acks.delete(id);
          callback(new Error(`no ack for "${event}" within ${timeout} ms`));
        }, timeout);
      }
      this.acks.set(id, (...reply) => {
        this.manager.timers.clearTimeout(timer);
        if (timeout !== undefined) callback(null, ...reply);
        else callback(...reply);
      });
    }
    if (this.connected) this.manager.write(packet);
    else this.buffer.push(packet);
    return this;
  }

  /** The next emit fails its ack after ms milliseconds (as socket.io-client). */
  timeout(ms) {
    this.flags.timeout = ms;
    return this;
  }

  /** Emit and resolve with the ack's first argument (rejects on timeout). */
  emitWithAck(event, ...args) {
    const timeout = this.flags.timeout;
    return new Promise((resolve, reject) => {
      if (timeout !== undefined) this.flags.timeout = timeout;
      this.emit(event, ...args, (...reply) => {
        if (timeout !== undefined) {
          const [error, value] = reply;
          return error ? reject(error) : resolve(value);
        }
        return resolve(reply[0]);
      });
    });
  }

  async sendConnect() {
    let auth = this.auth;
    if (typeof auth === "function") auth = await auth();
    this.manager.write({ type: PacketType.CONNECT, nsp: this.nsp, data: auth ?? undefined });
  }

  receive(packet) {
    switch (packet.type) {
      case PacketType.CONNECT:
        if (!packet.data || typeof packet.data.sid !== "string") {
          this.manager.fail("a CONNECT reply without sid");
          return;
        }
        this.id = packet.data.sid;
        this.connected = true;
        for (const buffered of this.buffer.splice(0)) this.manager.write(buffered);
        this.fire("connect");
        break;
      case PacketType.CONNECT_ERROR: {
        this.active = false; // refused: no reconnection (as the reference client)
        const error = new Error(packet.data?.message ?? "connection refused");
        error.data = packet.data?.data;
        this.fire("connect_error", error);
        break;
      }
      case PacketType.DISCONNECT:
        this.active = false;
        this.lost("io server disconnect");
        break;
      case PacketType.EVENT: {
        const [event, ...args] = packet.data;
        if (packet.id !== undefined) {
          let answered = false;
          args.push((...reply) => {
            if (answered) return;
            answered = true;
            this.manager.write({ type: PacketType.ACK, nsp: this.nsp, id: packet.id, data: reply });
          });
        }
        this.fire(event, ...args);
        break;
      }
      case PacketType.ACK: {
        const callback = this.acks.get(packet.id);
        this.acks.delete(packet.id);
        if (callback) callback(...packet.data);
        break;
      }
      default:
        break;
    }
  }

  lost(reason) {
    const was = this.connected;
    this.connected = false;
    this.id = undefined;
    if (was) this.fire("disconnect", reason);
  }
}

/** The connection: one Engine.IO session at a time, reconnected with backoff. */
export class Manager extends Emitter {
  constructor(url, options = {}) {
    super();
    this.url = url;
    this.options = options;
    this.timers = options.timers ?? globalThis;
    this.reconnection = options.reconnection ?? true;
    this.backoff = new Backoff({
      min: options.reconnectionDelay ?? 1000,
      max: options.reconnectionDelayMax ?? 5000,
      jitter: options.randomizationFactor ?? 0.5,
    });
    this.sockets = new Set(); // the attached ones
    this.namespaces = new Map();
    this.engine = null;
    this.state = "closed"; // closed, opening, open, reconnecting
    this.transport = null;
    this.timer = null;
    this.attempt = 0;
  }

  /** The socket of a namespace (one per namespace and manager, as socket.io-client). */
  socket(nsp = "/", options = {}) {
    if (!this.namespaces.has(nsp)) this.namespaces.set(nsp, new Socket(this, nsp, options));
    return this.namespaces.get(nsp);
  }

  attach(socket) {
    this.sockets.add(socket);
    if (this.state === "open") socket.sendConnect();
    else if (this.state === "closed") this.open();
  }

  detach(socket) {
    this.sockets.delete(socket);
    if (![...this.sockets].some((s) => s.active)) this.close();
  }

  setState(state) {
    this.state = state;
    this.fire("state", state);
  }

  async open() {
    this.timers.clearTimeout(this.timer);
    this.setState(this.attempt ? "reconnecting" : "opening");
    const engine = new EngineSession(this.url, this.options);
    this.engine = engine;
    engine.onTransport = (name) => {
      this.transport = name;
      this.fire("transport", name);
    };
    engine.onMessage = (text) => this.receive(text);
    engine.onClose = (reason, error) => this.closed(engine, reason, error);
    try {
      await engine.open();
    } catch (error) {
      if (this.engine !== engine) return;
      this.fire("error", error);
      for (const socket of this.sockets) {
        if (socket.active && !this.reconnection) socket.fire("connect_error", error);
      }
      this.retry();
      return;
    }
    if (this.engine !== engine) return;
    const recovered = this.attempt;
    this.attempt = 0;
    this.backoff.reset();
    this.setState("open");
    if (recovered) this.fire("reconnect", recovered);
    for (const socket of this.sockets) if (socket.active) socket.sendConnect();
  }

  retry() {
    if (!this.reconnection || ![...this.sockets].some((s) => s.active)) {
      this.setState("closed");
      return;
    }
    this.attempt += 1;
    const delay = this.backoff.duration();
    this.setState("reconnecting");
    this.fire("reconnect_attempt", this.attempt, delay);
    this.timer = this.timers.setTimeout(() => this.open(), delay);
  }

  receive(text) {
    let packet;
    try {
      packet = decodePacket(text);
    } catch (error) {
      this.fail(error.message);
      return;
    }
    for (const socket of this.sockets) if (socket.nsp === packet.nsp) socket.receive(packet);
  }

  write(packet) {
    return this.engine?.send(encodePacket(packet)) ?? false;
  }

  fail(why) {
    this.engine?.closed("parse error", new ProtocolError(why));
  }

  closed(engine, reason, error) {
    if (this.engine !== engine) return;
    this.engine = null;
    this.transport = null;
    // Acks still pending died with the session (the server forgot them); the ones
    // with a timeout() report it when it runs out.
    for (const socket of this.sockets) socket.lost(reason);
    this.fire("close", reason, error);
    if (reason === "forced close") this.setState("closed");
    else this.retry();
  }

  /** Close the connection for good (no reconnection). */
  close() {
    this.timers.clearTimeout(this.timer);
    this.attempt = 0;
    const engine = this.engine;
    if (engine) engine.close();
    this.engine = null;
    for (const socket of this.sockets) socket.lost("io client disconnect");
    this.setState("closed");
  }
}

/** Like socket.io-client's io(): a Manager of its own, the "/" socket, connected. */
export function io(url, options = {}) {
  const manager = new Manager(url, options);
  return manager.socket(options.namespace ?? "/", options).connect();
}

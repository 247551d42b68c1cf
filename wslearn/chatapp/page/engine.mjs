// Engine.IO v4, client side: one session over HTTP long-polling, upgraded to a
// WebSocket when the server offers it, with the heartbeat the server drives.
//
// A session starts with GET /socket.io/?EIO=4&transport=polling, whose answer is the
// OPEN packet: 0{"sid":..,"upgrades":["websocket"],"pingInterval":..,"pingTimeout":..}.
// From then on the client keeps one GET waiting for what the server has to say and
// sends with POST, several packets joined by the record separator \x1e. If the
// server offers "websocket", a WebSocket is opened beside it with the same sid and
// probed (2probe -> 3probe); once the probe succeeds, polling is paused (the server
// ends the waiting GET with a noop, 6), the client sends 5 (upgrade) on the
// WebSocket, and everything travels there. Text packets only: the chat app sends
// JSON, and a binary packet closes the session with a clear reason.
//
// The server pings (2) every pingInterval; the client answers 3 at once. Hearing no
// ping for pingInterval + pingTimeout means the server is gone: the session closes
// with "ping timeout" and the Socket.IO layer reconnects.

export const SEPARATOR = "\x1e";

export const EngineType = Object.freeze({
  OPEN: "0",
  CLOSE: "1",
  PING: "2",
  PONG: "3",
  MESSAGE: "4",
  UPGRADE: "5",
  NOOP: "6",
});

const KNOWN_TYPES = new Set(Object.values(EngineType));

export class ProtocolError extends Error {
  constructor(message) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** Split a polling payload into its packets ("4a\x1e4b" -> ["4a", "4b"]). */
export function decodePayload(text) {
  if (typeof text !== "string" || text === "") throw new ProtocolError("empty payload");
  const packets = text.split(SEPARATOR);
  for (const packet of packets) {
    if (packet.startsWith("b")) throw new ProtocolError("binary packets are not supported");
    if (!KNOWN_TYPES.has(packet[0])) throw new ProtocolError(`unknown packet ${packet.slice(0, 20)}`);
  }
  return packets;
}

/** Join packets into one polling payload. */
export function encodePayload(packets) {
  return packets.join(SEPARATOR);
}

/** Parse the OPEN packet's JSON and check the fields a v4 server must send. */
export function parseOpen(packet) {
  if (!packet.startsWith(EngineType.OPEN)) throw new ProtocolError("the first packet is not OPEN");
  let info;
  try {
    info = JSON.parse(packet.slice(1));
  } catch {
    throw new ProtocolError("the OPEN packet is not JSON");
  }
  for (const key of ["sid", "pingInterval", "pingTimeout"]) {
    if (info[key] === undefined) throw new ProtocolError(`the OPEN packet has no ${key}`);
  }
  return { upgrades: [], maxPayload: 1e6, ...info };
}

/** The HTTP and WebSocket URLs of the endpoint, with the Engine.IO query. */
export function endpoint(base, path, query) {
  const url = new URL(path, base);
  url.searchParams.set("EIO", "4");
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  return url;
}

/**
 * One Engine.IO session. Callbacks: onOpen(info), onMessage(text), onClose(reason),
 * onTransport(name). Call open() once; send(text) queues a MESSAGE; close() ends it.
 */
export class EngineSession {
  constructor(base, options) {
    this.base = base;
    this.path = options.path ?? "/socket.io/";
    this.transports = options.transports ?? ["polling", "websocket"];
    this.tryAllTransports = options.tryAllTransports ?? false;
    this.WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.timers = options.timers ?? globalThis;
    this.openTimeout = options.timeout ?? 20000;
    this.onOpen = () => {};
    this.onMessage = () => {};
    this.onClose = () => {};
    this.onTransport = () => {};
    this.state = "new"; // new -> opening -> open -> closed
    this.transport = null; // "polling" or "websocket"
    this.sid = null;
    this.info = null;
    this.ws = null;
    this.outbox = []; // packets waiting for the transport
    this.posting = false;
    this.paused = false; // polling paused for the upgrade
    this.polling = null; // the promise of the GET loop
    this.heartbeat = null;
    this.abort = new AbortController(); // ends a waiting GET when the session closes
  }

  async open() {
    this.state = "opening";
    const order = this.transports.filter((t) => t === "polling" || t === "websocket");
    let lastError = new ProtocolError("no transport to try");
    for (const name of order) {
      try {
        await this.withTimeout(name === "polling" ? this.openPolling() : this.openWebSocket());
        return;
      } catch (error) {
        lastError = error;
        this.dropWebSocket();
        if (!this.tryAllTransports || this.state === "closed") break;
      }
    }
    this.state = "closed";
    throw lastError;
  }

  withTimeout(promise) {
    return new Promise((resolve, reject) => {
      const timer = this.timers.setTimeout(
        () => reject(new ProtocolError(`no OPEN packet within ${this.openTimeout} ms`)),
        this.openTimeout,
      );
      promise.then(
        (value) => { this.timers.clearTimeout(timer); resolve(value); },
        (error) => { this.timers.clearTimeout(timer); reject(error); },
      );
    });
  }

  // -- polling ---------------------------------------------------------------------

  pollingUrl() {
    const query = { transport: "polling", t: Date.now().toString(36) };
    if (this.sid) query.sid = this.sid;
    return endpoint(this.base, this.path, query);
  }

  async openPolling() {
    const response = await this.fetch(this.pollingUrl(), { cache: "no-store" });
    const text = await response.text();
    if (!response.ok) throw new ProtocolError(`polling handshake refused (${response.status}): ${text.trim()}`);
    const [first, ...rest] = decodePayload(text);
    this.handshake(parseOpen(first), "polling");
    for (const packet of rest) this.receive(packet);
    this.polling = this.pollLoop();
    if (this.info.upgrades.includes("websocket") && this.transports.includes("websocket")) {
      this.probe();
    }
  }

  async pollLoop() {
    while (this.state === "open" && this.transport === "polling" && !this.paused) {
      let text;
      try {
        const response = await this.fetch(this.pollingUrl(), {
          cache: "no-store",
          signal: this.abort.signal,
        });
        text = await response.text();
        if (!response.ok) throw new ProtocolError(`poll refused (${response.status})`);
      } catch (error) {
        this.closed(this.state === "open" ? "transport error" : "transport close", error);
        return;
      }
      let packets;
      try {
        packets = decodePayload(text);
      } catch (error) {
        this.closed("parse error", error);
        return;
      }
      for (const packet of packets) this.receive(packet);
    }
  }

  async flushPolling() {
    if (this.posting || this.paused || this.transport !== "polling" || !this.outbox.length) return;
    this.posting = true;
    const body = encodePayload(this.outbox.splice(0));
    try {
      const response = await this.fetch(this.pollingUrl(), {
        method: "POST",
        body,
        headers: { "Content-Type": "text/plain;charset=UTF-8" },
      });
      await response.text();
      if (!response.ok) throw new ProtocolError(`POST refused (${response.status})`);
    } catch (error) {
      this.posting = false;
      this.closed("transport error", error);
      return;
    }
    this.posting = false;
    if (this.transport === "polling") this.flushPolling();
    else this.flushWebSocket(); // upgraded meanwhile
  }

  // -- WebSocket -------------------------------------------------------------------

  webSocketUrl() {
    const query = { transport: "websocket" };
    if (this.sid) query.sid = this.sid;
    const url = endpoint(this.base, this.path, query);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.toString();
  }

  connectWebSocket(onMessage) {
    const ws = new this.WebSocket(this.webSocketUrl());
    ws.onmessage = (event) => {
      if (typeof event.data !== "string") {
        this.closed("parse error", new ProtocolError("binary frames are not supported"));
        return;
      }
      onMessage(event.data);
    };
    return ws;
  }

  openWebSocket() {
    return new Promise((resolve, reject) => {
      let opened = false;
      const ws = this.connectWebSocket((data) => {
        if (!opened) {
          opened = true;
          try {
            this.ws = ws;
            this.handshake(parseOpen(data), "websocket");
            resolve();
          } catch (error) {
            reject(error);
          }
          return;
        }
        this.receive(data);
      });
      ws.onclose = (event) => {
        if (!opened) reject(new ProtocolError(`WebSocket closed before OPEN (code ${event.code})`));
        else if (this.ws === ws) this.closed("transport close");
      };
      // Browsers follow an error with a close event; Node's WebSocket may not.
      ws.onerror = () => {
        if (!opened) reject(new ProtocolError("the WebSocket connection failed"));
        else if (this.ws === ws) this.closed("transport error");
      };
    });
  }

  probe() {
    let probing = true;
    const ws = this.connectWebSocket((data) => {
      if (probing) {
        if (data !== "3probe") {
          ws.close();
          return;
        }
        probing = false;
        this.upgrade(ws);
        return;
      }
      this.receive(data);
    });
    ws.onopen = () => ws.send("2probe");
    ws.onclose = () => {
      if (this.ws === ws) this.closed("transport close");
    };
    ws.onerror = () => {}; // a failed probe just leaves the session on polling
  }

  async upgrade(ws) {
    // Pause polling: no new GET or POST; wait for the ones in flight (the server ends
    // the waiting GET with a noop once it has seen the probe).
    this.paused = true;
    const posting = () => new Promise((resolve) => {
      const check = () => (this.posting ? this.timers.setTimeout(check, 10) : resolve());
      check();
    });
    await Promise.all([this.polling, posting()]);
    if (this.state !== "open") {
      ws.close();
      return;
    }
    this.ws = ws;
    this.transport = "websocket";
    ws.send(EngineType.UPGRADE);
    this.onTransport("websocket");
    this.flushWebSocket();
  }

  flushWebSocket() {
    if (this.transport !== "websocket" || !this.ws) return;
    for (const packet of this.outbox.splice(0)) this.ws.send(packet);
  }

  dropWebSocket() {
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close();
      this.ws = null;
    }
  }

  // -- packets -----------------------------------------------------------------------

  handshake(info, transport) {
    this.info = info;
    this.sid = info.sid;
    this.transport = transport;
    this.state = "open";
    this.resetHeartbeat();
    this.onTransport(transport);
    this.onOpen(info);
  }

  receive(packet) {
    if (this.state !== "open") return;
    switch (packet[0]) {
      case EngineType.PING:
        this.resetHeartbeat();
        this.write(EngineType.PONG + packet.slice(1));
        break;
      case EngineType.MESSAGE:
        this.onMessage(packet.slice(1));
        break;
      case EngineType.CLOSE:
        this.closed("transport close");
        break;
      case EngineType.NOOP:
        break;
      default:
        this.closed("parse error", new ProtocolError(`unexpected packet ${packet.slice(0, 20)}`));
    }
  }

  resetHeartbeat() {
    this.timers.clearTimeout(this.heartbeat);
    const bound = this.info.pingInterval + this.info.pingTimeout;
    this.heartbeat = this.timers.setTimeout(() => this.closed("ping timeout"), bound);
  }

  write(packet) {
    this.outbox.push(packet);
    if (this.transport === "websocket") this.flushWebSocket();
    else this.flushPolling();
  }

  send(text) {
    if (this.state !== "open") return false;
    this.write(EngineType.MESSAGE + text);
    return true;
  }

  close() {
    if (this.state !== "open") {
      this.state = "closed";
      return;
    }
    if (this.transport === "websocket" && this.ws) this.ws.send(EngineType.CLOSE);
    else {
      this.outbox.push(EngineType.CLOSE);
      this.flushPolling();
    }
    this.closed("forced close");
  }

  closed(reason, error) {
    if (this.state === "closed") return;
    this.state = "closed";
    this.timers.clearTimeout(this.heartbeat);
    this.abort.abort();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      // A moment for a CLOSE packet written just before to leave.
      this.timers.setTimeout(() => ws.close(), 0);
    }
    this.onClose(reason, error);
  }
}

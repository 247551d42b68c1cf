// The page: draws a ChatSession (chat.mjs) and turns clicks and keys into its calls.
// Everything a user wrote is put in the page with textContent, never as HTML.

import { ChatSession } from "./chat.mjs";

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

// The endpoint sits beside the page: at /socket.io/ when the page is at /, and at
// /user/.../proxy/8000/socket.io/ behind jupyter-server-proxy (Binder, JupyterHub).
const path = new URL("socket.io/", location.href).pathname;
const session = new ChatSession(location.origin, { storage: sessionStorage, path });
window.wslearnChat = session; // for the browser test and the curious

const TICKS = { queued: "…", sent: "✓", delivered: "✓✓", failed: "!" };
const TICK_TITLES = {
  queued: "waiting for the server",
  sent: "sent: the server has it",
  delivered: "delivered to everyone in the room",
  failed: "refused by the server",
};

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function describeConnection() {
  const { state, transport, next } = session.connection;
  if (state === "connected") return `connected (${transport})`;
  if (state === "reconnecting" && next) {
    const left = Math.max(0, Math.ceil((next.at + next.delay - Date.now()) / 1000));
    return `reconnecting: attempt ${next.attempt}${left ? ` in ${left} s` : ""}`;
  }
  if (state === "opening") return "connecting";
  if (state === "reconnecting") return "reconnecting";
  return session.user ? "disconnected" : "not connected";
}

function drawRooms() {
  const list = $("room-list");
  list.replaceChildren();
  const known = new Map(session.roomList.map((r) => [r.id, r]));
  for (const id of session.rooms.keys()) if (!known.has(id)) known.set(id, { id, joined: true });
  for (const summary of [...known.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    const joined = session.rooms.has(summary.id) || Boolean(summary.joined);
    const button = element("button", joined ? "" : "not-joined");
    button.type = "button";
    button.dataset.room = summary.id;
    button.append(element("span", "", `# ${summary.id}`));
    const unread = session.rooms.get(summary.id)?.unread ?? 0;
    if (joined && unread && summary.id !== session.current) {
      const badge = element("span", "badge", String(unread));
      badge.dataset.testid = `unread-${summary.id}`;
      button.append(badge);
    }
    if (!joined) button.append(element("span", "", "join"));
    button.setAttribute("aria-current", String(summary.id === session.current));
    button.addEventListener("click", () => (joined ? session.show(summary.id) : session.join(summary.id)));
    const item = element("li");
    item.append(button);
    list.append(item);
  }
}

function drawMessages() {
  const list = $("message-list");
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  list.replaceChildren();
  for (const line of session.lines()) {
    const item = element("li", line.mine ? "message mine" : "message");
    item.dataset.status = line.mine ? line.status : "";
    item.dataset.clientId = line.clientId;
    const meta = element("div", "meta");
    meta.append(element("span", "name", line.name));
    meta.append(element("span", "time", line.timestamp ? line.timestamp.slice(11, 19) : ""));
    if (line.mine) {
      const tick = element("span", "tick", TICKS[line.status]);
      tick.dataset.status = line.status;
      tick.title = TICK_TITLES[line.status];
      meta.append(tick);
    }
    item.append(meta, element("div", "text", line.text));
    list.append(item);
  }
  $("load-earlier").hidden = !session.room()?.hasMore;
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function draw() {
  const signedIn = Boolean(session.user);
  $("sign-in").hidden = signedIn;
  $("chat").hidden = !signedIn;
  $("sign-out").hidden = !signedIn;
  $("me").textContent = signedIn ? session.user.name : "";
  const { state } = session.connection;
  $("light").dataset.state = state;
  $("connection-text").textContent = describeConnection();
  if (!signedIn) return;
  $("room-title").textContent = `# ${session.current}`;
  const online = session.room()?.presence ?? [];
  const presence = $("presence");
  presence.replaceChildren(element("span", "", "online: "));
  online.forEach((user, i) => {
    presence.append(element("span", "who", user.name));
    if (i < online.length - 1) presence.append(", ");
  });
  const typists = session.typists();
  $("typing").textContent = typists.length
    ? `${typists.join(", ")} ${typists.length === 1 ? "is" : "are"} typing…`
    : "";
  $("error").textContent = session.errors.at(-1) ?? "";
  drawRooms();
  drawMessages();
}

session.on("change", draw);
setInterval(draw, 1000); // the countdown of the next reconnection attempt

$("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("sign-in-error").textContent = "";
  try {
    await session.signIn($("name").value);
  } catch (error) {
    $("sign-in-error").textContent = error.message;
  }
});

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text").value;
  if (!text.trim()) return;
  session.send(text);
  $("text").value = "";
});
$("text").addEventListener("input", () => session.keystroke());

$("new-room").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("new-room-name").value.trim();
  if (!name) return;
  const reply = await session.join(name, { create: true });
  if (!reply.error) $("new-room-name").value = "";
});

$("leave").addEventListener("click", () => session.leave());
$("load-earlier").addEventListener("click", () => session.loadEarlier());
$("sign-out").addEventListener("click", () => session.signOut());

if (session.token) session.start(); // a reload: the saved token signs this tab in again
draw();

// The page's protocol code without a network: packets, payloads, OPEN, backoff.

import assert from "node:assert/strict";
import { test } from "node:test";

import { decodePayload, encodePayload, endpoint, parseOpen, ProtocolError } from "../../../wslearn/chatapp/page/engine.mjs";
import { Backoff, decodePacket, encodePacket, PacketType } from "../../../wslearn/chatapp/page/socketio.mjs";

test("packets encode as the protocol's examples", () => {
  assert.equal(encodePacket({ type: PacketType.CONNECT }), "0");
  assert.equal(encodePacket({ type: PacketType.CONNECT, nsp: "/chat", data: { token: "abc" } }), '0/chat,{"token":"abc"}');
  assert.equal(encodePacket({ type: PacketType.EVENT, data: ["join-room", "r1"], id: 12 }), '212["join-room","r1"]');
  assert.equal(encodePacket({ type: PacketType.ACK, nsp: "/chat", id: 12, data: ["ok"] }), '3/chat,12["ok"]');
  assert.equal(encodePacket({ type: PacketType.DISCONNECT, nsp: "/chat" }), "1/chat,");
});

test("packets decode with namespace, ack id and payload", () => {
  assert.deepEqual(decodePacket('0{"sid":"x"}'), { type: 0, nsp: "/", id: undefined, data: { sid: "x" } });
  assert.deepEqual(decodePacket('2/chat,7["m",{"a":1}]'), { type: 2, nsp: "/chat", id: 7, data: ["m", { a: 1 }] });
  assert.deepEqual(decodePacket("3/chat,12[]"), { type: 3, nsp: "/chat", id: 12, data: [] });
  assert.deepEqual(decodePacket("1/chat,"), { type: 1, nsp: "/chat", id: undefined, data: undefined });
  assert.deepEqual(decodePacket('4{"message":"Not authorized"}').data, { message: "Not authorized" });
});

test("malformed packets are refused with a ProtocolError naming the problem", () => {
  for (const [text, why] of [
    ["9[]", /unknown Socket.IO packet type/],
    ["", /unknown/],
    ["2{bad json", /not JSON/],
    ['2{"not":"an array"}', /non-empty array/],
    ["2[]", /non-empty array/],
    ["2[5]", /non-empty array/],
    ["3[]", /has an id/],
    ["2/chat", /without a comma/],
    ['51-["f",{"_placeholder":true,"num":0}]', /binary/],
  ]) {
    assert.throws(() => decodePacket(text), (error) => error instanceof ProtocolError && why.test(error.message), text);
  }
});

test("polling payloads split and join on the record separator", () => {
  assert.deepEqual(decodePayload("2\x1e42[\"a\"]\x1e6"), ["2", '42["a"]', "6"]);
  assert.equal(encodePayload(["3", '42["b"]']), '3\x1e42["b"]');
  assert.throws(() => decodePayload(""), /empty payload/);
  assert.throws(() => decodePayload("4a\x1ebAQID"), /binary/);
  assert.throws(() => decodePayload("9x"), /unknown packet/);
});

test("the OPEN packet must carry sid and the heartbeat numbers", () => {
  const info = parseOpen('0{"sid":"s1","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}');
  assert.deepEqual(info.upgrades, ["websocket"]);
  assert.equal(parseOpen('0{"sid":"s","pingInterval":1,"pingTimeout":1}').maxPayload, 1e6);
  assert.throws(() => parseOpen('0{"sid":"s"}'), /no pingInterval/);
  assert.throws(() => parseOpen("0{oops"), /not JSON/);
  assert.throws(() => parseOpen('4{"sid":"s"}'), /not OPEN/);
});

test("the endpoint URL carries EIO=4 and the transport, parsed not pasted", () => {
  const url = endpoint("http://127.0.0.1:8000", "/socket.io/", { transport: "polling", sid: "a b" });
  assert.equal(url.pathname, "/socket.io/");
  assert.equal(url.searchParams.get("EIO"), "4");
  assert.equal(url.searchParams.get("sid"), "a b");
});

test("backoff doubles from the first delay up to the cap, randomised within the jitter", () => {
  const plain = new Backoff({ min: 1000, max: 5000, jitter: 0 });
  assert.deepEqual([1, 2, 3, 4, 5].map(() => plain.duration()), [1000, 2000, 4000, 5000, 5000]);
  plain.reset();
  assert.equal(plain.duration(), 1000);
  const low = new Backoff({ jitter: 0.5, random: () => 0 });
  const high = new Backoff({ jitter: 0.5, random: () => 0.999999 });
  assert.equal(low.duration(), 500);
  assert.ok(high.duration() >= 1499);
});

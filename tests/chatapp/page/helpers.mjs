// Shared by the page's tests: a real wslearn chat server in a subprocess, Node's
// socket.io server in this process, and a bounded wait.

import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const PAGE = new URL("../../../wslearn/chatapp/page/", import.meta.url);
const PYTHON = process.env.WSLEARN_PYTHON ?? "python3";

/** Node's official socket.io (installed by `make node-peers`), or null without it. */
export function nodeSocketIO() {
  try {
    return createRequire(new URL("../../interop/node/package.json", import.meta.url))("socket.io");
  } catch {
    return null;
  }
}

/** Wait until check() is truthy, polling every 10 ms; fail after `within` ms. */
export async function waitFor(check, within = 5000, what = "the condition") {
  const deadline = Date.now() + within;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${within} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `python -m wslearn chat` on 127.0.0.1 (port 0: a free one); resolves when it listens. */
export function startChatServer({ port = 0, pingInterval = 25, pingTimeout = 20, limits = true } = {}) {
  const args = ["-m", "wslearn", "chat", "--port", String(port),
    "--ping-interval", String(pingInterval), "--ping-timeout", String(pingTimeout)];
  if (!limits) args.push("--no-limits");
  const child = spawn(PYTHON, args, {
    cwd: ROOT,
    env: { ...process.env, PYTHONPATH: ROOT },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    let stdout = "";
    const timer = setTimeout(() => reject(new Error(`no URL within 20 s: ${stderr}`)), 20000);
    child.on("exit", (code) => reject(new Error(`the server exited (${code}): ${stderr}`)));
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      const match = stdout.match(/http:\/\/127\.0\.0\.1:(\d+)/);
      if (!match) return;
      clearTimeout(timer);
      resolve({
        url: match[0],
        port: Number(match[1]),
        stderr: () => stderr,
        stop: () => new Promise((done) => {
          if (child.exitCode !== null) return done(child.exitCode);
          child.on("exit", (code) => done(code));
          child.kill("SIGINT");
        }),
      });
    });
  });
}

/**
 * The page the supervisor serves at `/rooms/{id}/view` (one room) and `/` (the room list).
 *
 * The view token comes in the URL fragment (`#token=…`), which browsers never send to a server or
 * put in a Referer; the page passes it to the feed as `?token=`. Without one the page works only on
 * a supervisor started with `--insecure-no-auth`.
 */

import { SseEventsClient, type SseTransport } from "../client/sse.js";
import { h } from "./components.js";
import { mountDashboard, type DashboardHandle } from "./dashboard.js";

declare global {
  interface Window {
    prismDashboard?: DashboardHandle;
  }
}

function tokenFromHash(): string | undefined {
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  return params.get("token") ?? undefined;
}

/** The participant a view token votes as (its claims are readable; the supervisor checks the MAC). */
function participantOf(token: string | undefined): string | undefined {
  try {
    const body = token?.split(".")[1];
    if (!body) return undefined;
    const claims = JSON.parse(atob(body.replace(/-/g, "+").replace(/_/g, "/"))) as { p?: unknown };
    return typeof claims.p === "string" ? claims.p : undefined;
  } catch {
    return undefined;
  }
}

async function roomList(app: HTMLElement, token: string | undefined): Promise<void> {
  const title = h("h1", {}, "Rooms");
  const list = h("ul", { class: "room-list" });
  const note = h("p", { class: "note" }, "Loading…");
  app.replaceChildren(h("header", { class: "top" }, title), h("main", { class: "list" }, list, note));
  const response = await fetch(`/view/rooms${token ? `?token=${encodeURIComponent(token)}` : ""}`);
  if (!response.ok) {
    note.textContent = response.status === 401 ? "This link has no valid view token (ask for a new one: POST /view-tokens with roomId \"*\")." : `Could not list rooms (HTTP ${response.status}).`;
    return;
  }
  const { rooms } = (await response.json()) as { rooms: { id: string; status: string; scenario: string | null; daily: boolean; createdAt: string }[] };
  note.textContent = rooms.length === 0 ? "No rooms yet." : "";
  for (const r of rooms) {
    const link = h("a", { href: `/rooms/${encodeURIComponent(r.id)}/view${token ? `#token=${encodeURIComponent(token)}` : ""}` }, r.scenario ? `${r.scenario} (simulated)` : r.daily ? "Daily room" : r.id);
    list.append(h("li", {}, link, " ", h("span", { class: `room-state ${r.status}` }, r.status), " ", h("code", {}, r.id)));
  }
}

function main(): void {
  const app = document.getElementById("app");
  if (app === null) return;
  const roomId = app.dataset.room ?? "";
  const token = tokenFromHash();
  if (roomId === "") {
    void roomList(app, token);
    return;
  }
  const client = new SseEventsClient({ roomId, ...(token === undefined ? {} : { token }) });
  const voter = participantOf(token);
  const who = voter ? ` · voting as ${voter}` : " · watching only";
  const dashboard = mountDashboard(app, client, { title: `Room ${roomId}${who}`, canVote: voter !== undefined });
  window.prismDashboard = dashboard;
  const transport = client.transport as SseTransport;
  transport.onHello = (hello) => {
    if (hello.title) dashboard.setTitle(`${hello.title}${who}`);
  };
  void client.start();
}

main();

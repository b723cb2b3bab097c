/**
 * The dashboard in a real Daily room: join with daily-js (audio and video off: this page only
 * watches and votes), feed a DailyEventsClient, mount the same dashboard the supervisor serves.
 *
 * Build: `npm run example` → examples/dist/ ; serve that folder over http(s) and open daily.html.
 */

import DailyModule from "@daily-co/daily-js";

import { DailyEventsClient, DEFAULT_BOT_NAME, type BotIdentity } from "../src/client/daily.js";
import { mountDashboard } from "../src/dashboard/dashboard.js";

// daily-js is CommonJS: the default export is `.default` under Node's resolution, the module under a bundler
type DailyClass = typeof DailyModule.default;
const Daily: DailyClass = (DailyModule as unknown as { default?: DailyClass }).default ?? (DailyModule as unknown as DailyClass);

const form = document.getElementById("join") as HTMLFormElement;
const app = document.getElementById("app") as HTMLElement;

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const url = String(data.get("url") ?? "").trim();
  const token = String(data.get("token") ?? "").trim();
  const botId = String(data.get("botId") ?? "").trim();
  const botName = String(data.get("botName") ?? "").trim() || DEFAULT_BOT_NAME;
  const bot: BotIdentity = botId ? { participantId: botId } : { userName: botName };
  void join(url, token, bot);
});

async function join(url: string, token: string, bot: BotIdentity): Promise<void> {
  const call = Daily.createCallObject({ audioSource: false, videoSource: false });
  const client = new DailyEventsClient(call, { bot });
  const room = new URL(url).pathname.replace(/^\//, "") || url;
  form.hidden = true;
  const dashboard = mountDashboard(app, client, { title: `Daily room ${room}`, canVote: true });
  (window as unknown as { prismDashboard: unknown }).prismDashboard = dashboard;
  await client.start();
  await call.join({ url, ...(token ? { token } : {}), userName: "Dashboard" });
}

/**
 * The room dashboard: every component wired to an {@link EventsClient}, redrawn at most once per
 * animation frame however fast envelopes arrive.
 *
 * `mountDashboard(container, client, options)` works on any transport (the supervisor's SSE feed,
 * a Daily call); `web/examples/daily.html` mounts it on a `DailyEventsClient`.
 */

import type { EventsClient } from "../client/transport.js";
import { AgendaPanel, FeedPanel, h, OtherEventsPanel, ParticipantsPanel, TimelinePanel, VotePanel, clock } from "./components.js";
import { applyEnvelope, emptyModel, label, type RoomModel } from "./model.js";

export interface DashboardOptions {
  /** The room's name in the header. */
  title?: string;
  /** Whether this viewer may vote (a view token with a participant id, or a Daily participant). */
  canVote?: boolean;
}

/** What a mounted dashboard exposes (the e2e test and the benchmark read it through `window.prismDashboard`). */
export interface DashboardHandle {
  model: RoomModel;
  client: EventsClient;
  /** ms from an envelope's arrival (the transport's message, before validation) to the end of the
   * frame that drew it (last 5000). */
  latencies: number[];
  renders: number;
  /** Change the header's title (the page learns the room's name from the feed). */
  setTitle(title: string): void;
  destroy(): void;
}

const MAX_LATENCIES = 5000;

export function mountDashboard(container: HTMLElement, client: EventsClient, options: DashboardOptions = {}): DashboardHandle {
  const model = emptyModel();
  const people = new ParticipantsPanel();
  const timeline = new TimelinePanel();
  const agenda = new AgendaPanel();
  const vote = new VotePanel((voteId, option) => void castVote(voteId, option));
  vote.setCanVote(options.canVote ?? false);
  const feed = new FeedPanel();
  const other = new OtherEventsPanel();

  const conn = h("span", { class: "conn", role: "status" }, "connecting");
  const roomState = h("span", { class: "room-state" }, "waiting for the bot");
  const time = h("span", { class: "clock", "aria-label": "meeting time" }, "0:00");
  const bot = h("span", { class: "bot-speaking", "aria-live": "polite" }, "");
  const counts = h("span", { class: "counts" }, "");
  const heading = h("h1", {}, options.title ?? "Room");
  const header = h(
    "header",
    { class: "top" },
    heading,
    h("div", { class: "top-status" }, roomState, time, bot, conn),
  );
  const footer = h("footer", { class: "bottom" }, counts);
  const grid = h(
    "main",
    { class: "grid" },
    h("div", { class: "col-left" }, people.element, timeline.element),
    h("div", { class: "col-right" }, agenda.element, vote.element, feed.element, other.element),
  );
  container.replaceChildren(header, grid, footer);

  const handle: DashboardHandle = {
    model,
    client,
    latencies: [],
    renders: 0,
    destroy,
    setTitle: (title) => {
      heading.textContent = title;
      document.title = `${title} · Prism`;
    },
  };
  let pending: number[] = [];
  let frame = 0;

  function render(): void {
    frame = 0;
    people.update(model);
    timeline.update(model);
    agenda.update(model);
    vote.update(model);
    feed.update(model);
    other.update(model);
    const status = model.status === "live" ? "live" : model.status === "ended" ? `ended (${model.endReason ?? "—"})` : model.status === "failed" ? `failed (${model.endReason ?? "—"})` : "waiting for the bot";
    if (roomState.textContent !== status) roomState.textContent = status;
    roomState.className = `room-state ${model.status}`;
    const now = clock(model.nowMs);
    if (time.textContent !== now) time.textContent = now;
    const KIND: Record<string, string> = { wrapup: "wrap-up", time_box: "time box", topic_shift: "next topic", nudge: "nudge", interrupt: "stepping in", facilitation: "facilitation" };
    const about = model.botSpeech ? ` (${KIND[model.botSpeech.kind] ?? model.botSpeech.kind}${model.botSpeech.targetId ? `, to ${label(model, model.botSpeech.targetId)}` : ""})` : "";
    const speaking = model.botSpeaking ? `🔊 facilitator is speaking${about}` : "";
    if (bot.textContent !== speaking) bot.textContent = speaking;
    const s = client.runtime.stats();
    const reasons = Object.entries(s.dropped).map(([k, v]) => `${k} ${v}`).join(", ");
    counts.textContent = `${s.dispatched} events · ${s.droppedTotal} rejected${reasons ? ` (${reasons})` : ""}${s.gaps ? ` · ${s.gaps} missing` : ""}`;
    counts.dataset.dropped = String(s.droppedTotal);
    counts.dataset.dispatched = String(s.dispatched);
    handle.renders += 1;
    if (pending.length > 0) {
      const arrived = pending;
      pending = [];
      // the end of this frame's DOM work: measured after layout, on the next task
      setTimeout(() => {
        const done = performance.now();
        for (const t of arrived) handle.latencies.push(done - t);
        if (handle.latencies.length > MAX_LATENCIES) handle.latencies.splice(0, handle.latencies.length - MAX_LATENCIES);
      }, 0);
    }
  }

  function schedule(): void {
    if (frame === 0) frame = requestAnimationFrame(render);
  }

  async function castVote(voteId: string, option: string): Promise<void> {
    const v = model.vote;
    if (v === null || v.voteId !== voteId) return;
    v.myChoice = option;
    v.myStatus = "sending";
    schedule();
    try {
      await client.vote(voteId, option);
      v.myStatus = "sent";
      v.myError = null;
    } catch (error) {
      v.myStatus = "failed";
      v.myError = error instanceof Error ? error.message : String(error);
    }
    schedule();
  }

  const unsubscribe = client.runtime.subscribe(
    "*",
    (e) => {
      // a hidden tab gets no animation frames while the feed goes on: keep only the newest arrivals
      if (pending.length >= MAX_LATENCIES) pending.splice(0, pending.length - MAX_LATENCIES + 1);
      pending.push(client.arrivedAt > 0 ? client.arrivedAt : performance.now());
      applyEnvelope(model, e);
      schedule();
    },
    { replay: true },
  );
  const TEXT: Record<string, string> = { idle: "not connected", connecting: "connecting…", connected: "● connected", reconnecting: "reconnecting…", disconnected: "disconnected", ended: "feed ended" };
  const offState = client.onState((state, detail) => {
    conn.textContent = TEXT[state] ?? state;
    conn.className = `conn ${state}`;
    conn.title = detail ?? "";
  });
  // wall-clock ticks keep the clock and open segments moving between envelopes
  const ticker = setInterval(schedule, 1000);
  schedule();

  function destroy(): void {
    unsubscribe();
    offState();
    clearInterval(ticker);
    if (frame !== 0) cancelAnimationFrame(frame);
  }
  return handle;
}

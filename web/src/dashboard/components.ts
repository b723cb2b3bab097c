/**
 * Reusable dashboard components. Each is `new X()` → `.element` to place anywhere, and
 * `.update(model)` to redraw from a {@link RoomModel}; updates touch only the nodes whose text or
 * size changed, and every panel has a fixed height or reserved rows, so nothing shifts as data
 * arrives. Colours are not the only signal: speaking, dominance and marks also carry text and
 * ARIA labels.
 */

import type { Mark, Person, RoomModel } from "./model.js";
import { label } from "./model.js";

type Attrs = Record<string, string>;

/** Create an element with attributes and children. */
export function h(tag: string, attrs: Attrs = {}, ...children: (Node | string)[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") el.className = v;
    else el.setAttribute(k, v);
  }
  for (const c of children) el.append(c);
  return el;
}

function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

function setAttr(el: Element, name: string, value: string): void {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

function toggle(el: Element, cls: string, on: boolean): void {
  if (el.classList.contains(cls) !== on) el.classList.toggle(cls, on);
}

/**
 * Drop the rows of ids the model no longer has (a bot restart opens a new session and the model
 * starts empty: without this, the previous session's people and topics would stay on screen).
 */
function pruneRows<T>(rows: Map<string, T>, keep: ReadonlyMap<string, unknown>, element: (row: T) => Element): void {
  for (const [id, row] of rows) {
    if (!keep.has(id)) {
      element(row).remove();
      rows.delete(id);
    }
  }
}

export function clock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function panel(title: string, id: string): { root: HTMLElement; body: HTMLElement } {
  const heading = h("h2", { id: `${id}-title` }, title);
  const body = h("div", { class: "panel-body" });
  const root = h("section", { class: `panel ${id}`, "aria-labelledby": `${id}-title` }, heading, body);
  return { root, body };
}

function sortedPeople(model: RoomModel): Person[] {
  return [...model.people.values()].sort((a, b) => a.order - b.order);
}

// ---------------------------------------------------------------------------------------------
/** Who is in the room and who speaks now; talk share with the dominant speaker marked; pace. */
export class ParticipantsPanel {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly rows = new Map<string, { row: HTMLElement; name: HTMLElement; state: HTMLElement; fill: HTMLElement; pct: HTMLElement; pace: HTMLElement; bar: HTMLElement }>();
  private readonly note: HTMLElement;

  constructor() {
    const { root, body } = panel("People", "people");
    this.list = h("ul", { class: "people-list", "aria-live": "off" });
    this.note = h("p", { class: "note" }, "Talk share: waiting for the first score…");
    body.append(
      h("div", { class: "people-head", "aria-hidden": "true" }, h("span", {}, "Name"), h("span", {}, "Now"), h("span", {}, "Talk share"), h("span", {}, "Pace")),
      this.list,
      this.note,
    );
    this.element = root;
  }

  update(model: RoomModel): void {
    pruneRows(this.rows, model.people, (r) => r.row);
    for (const p of sortedPeople(model)) {
      let r = this.rows.get(p.id);
      if (r === undefined) {
        const name = h("span", { class: "name" });
        const state = h("span", { class: "state" });
        const fill = h("span", { class: "fill" });
        const bar = h("span", { class: "bar", role: "meter", "aria-valuemin": "0", "aria-valuemax": "100" }, fill);
        const pct = h("span", { class: "pct" });
        const pace = h("span", { class: "pace" });
        const row = h("li", { class: "person", "data-participant": p.id }, name, state, h("span", { class: "share" }, bar, pct), pace);
        r = { row, name, state, fill, pct, pace, bar };
        this.rows.set(p.id, r);
        this.list.append(row);
      }
      const dominant = model.dominantId === p.id;
      setText(r.name, p.name + (dominant ? " ★" : ""));
      setAttr(r.name, "title", dominant ? "dominant speaker (over the room's threshold)" : p.name);
      setText(r.state, !p.present ? "left" : p.speaking ? "speaking" : "");
      toggle(r.row, "speaking", p.speaking && p.present);
      toggle(r.row, "left", !p.present);
      toggle(r.row, "dominant", dominant);
      setAttr(r.row, "aria-label", `${p.name}${p.speaking ? ", speaking" : ""}${!p.present ? ", left" : ""}${dominant ? ", dominant speaker" : ""}`);
      const pct = p.share === null ? null : Math.round(p.share * 100);
      r.fill.style.transform = `scaleX(${p.share ?? 0})`;
      setText(r.pct, pct === null ? "–" : `${pct}%`);
      setAttr(r.bar, "aria-valuenow", String(pct ?? 0));
      setAttr(r.bar, "aria-label", `${p.name} talk share`);
      setAttr(r.row, "data-share", p.share === null ? "" : String(p.share));
      setText(
        r.pace,
        p.pace === "no_words"
          ? "no transcript"
          : p.wpm === null
            ? "–"
            : `${Math.round(p.wpm)} wpm${p.pace && p.pace !== "normal" ? ` · ${p.pace}` : ""}`,
      );
      toggle(r.pace, "off-pace", p.pace === "fast" || p.pace === "slow");
    }
    const gini = model.gini === null ? "" : ` · balance (Gini) ${model.gini.toFixed(2)}, 0 = even`;
    setText(
      this.note,
      model.gini === null
        ? "Talk share: waiting for the first score…"
        : `Talk share ${model.sharesFinal ? "for the whole meeting" : "so far"}${gini}${model.dominantId ? ` · ★ ${label(model, model.dominantId)} dominates` : ""}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
const MARK_TEXT: Record<Mark["kind"], string> = { interruption: "interrupted", overlap: "talked over", backchannel: "backchannel to" };

/** Speaking time per participant on one time axis, with overlaps, backchannels and interruptions. */
export class TimelinePanel {
  readonly element: HTMLElement;
  private readonly tracks: HTMLElement;
  private readonly axis: HTMLElement;
  private readonly rows = new Map<string, { track: HTMLElement; segs: HTMLElement[]; marks: HTMLElement[] }>();

  constructor() {
    const { root, body } = panel("Timeline", "timeline");
    this.tracks = h("div", { class: "tracks" });
    this.axis = h("div", { class: "axis", "aria-hidden": "true" });
    const legend = h(
      "p",
      { class: "legend" },
      h("span", { class: "key seg-key" }, "speaking"),
      h("span", { class: "key mark interruption" }, "▼"),
      " interruption ",
      h("span", { class: "key mark overlap" }, "◆"),
      " overlap ",
      h("span", { class: "key mark backchannel" }, "•"),
      " backchannel",
    );
    body.append(this.tracks, this.axis, legend);
    this.element = root;
  }

  update(model: RoomModel): void {
    // the axis fits the meeting: 5 s of headroom while live, exact at the end; quarters on round seconds
    const live = model.status !== "ended" && model.status !== "failed";
    const span = Math.max(60_000, Math.ceil((model.nowMs + (live ? 5000 : 0)) / 20_000) * 20_000);
    const pos = (ms: number): string => `${((100 * ms) / span).toFixed(3)}%`;
    pruneRows(this.rows, model.people, (r) => r.track.parentElement ?? r.track);
    for (const p of sortedPeople(model)) {
      let r = this.rows.get(p.id);
      if (r === undefined) {
        const track = h("div", { class: "track", role: "img" });
        const row = h("div", { class: "track-row", "data-participant": p.id }, h("span", { class: "track-name" }, p.name), track);
        r = { track, segs: [], marks: [] };
        this.rows.set(p.id, r);
        this.tracks.append(row);
      }
      const nameEl = r.track.previousElementSibling;
      if (nameEl) setText(nameEl, p.name);
      // segments
      while (r.segs.length < p.segments.length) {
        const seg = h("span", { class: "seg" });
        r.segs.push(seg);
        r.track.append(seg);
      }
      while (r.segs.length > p.segments.length) r.segs.shift()?.remove();
      p.segments.forEach((s, i) => {
        const el = r.segs[i];
        if (el === undefined) return;
        const end = s.endMs ?? model.nowMs;
        el.style.left = pos(s.startMs);
        el.style.width = pos(Math.max(200, end - s.startMs));
        toggle(el, "open", s.endMs === null);
      });
      // marks
      while (r.marks.length < p.marks.length) {
        const m = h("span", { class: "mark" });
        r.marks.push(m);
        r.track.append(m);
      }
      while (r.marks.length > p.marks.length) r.marks.shift()?.remove();
      p.marks.forEach((m, i) => {
        const el = r.marks[i];
        if (el === undefined) return;
        el.className = `mark ${m.kind}`;
        setText(el, m.kind === "interruption" ? "▼" : m.kind === "overlap" ? "◆" : "•");
        el.style.left = pos(m.atMs);
        const text = `${p.name} ${MARK_TEXT[m.kind]} ${label(model, m.otherId)} at ${clock(m.atMs)}`;
        setAttr(el, "title", text);
        setAttr(el, "aria-label", text);
        setAttr(el, "role", "img");
        setAttr(el, "data-kind", m.kind);
      });
      const interruptions = p.marks.filter((m) => m.kind === "interruption").length;
      setAttr(r.track, "aria-label", `${p.name}: ${p.segments.length} turns, ${interruptions} interruptions`);
    }
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => clock(f * span));
    if (this.axis.childElementCount !== ticks.length) {
      this.axis.replaceChildren(...ticks.map(() => h("span", {})));
    }
    ticks.forEach((t, i) => {
      const el = this.axis.children[i];
      if (el) setText(el, t);
    });
  }
}

// ---------------------------------------------------------------------------------------------
/** The agenda item with time used vs. its box, the next item, and the wrap-up prompt. */
export class AgendaPanel {
  readonly element: HTMLElement;
  private readonly item: HTMLElement;
  private readonly fill: HTMLElement;
  private readonly bar: HTMLElement;
  private readonly time: HTMLElement;
  private readonly next: HTMLElement;
  private readonly wrap: HTMLElement;

  constructor() {
    const { root, body } = panel("Agenda", "agenda");
    this.item = h("p", { class: "agenda-item" }, "No time box reported yet");
    this.fill = h("span", { class: "fill" });
    this.bar = h("span", { class: "bar wide", role: "meter", "aria-label": "time used of the time box", "aria-valuemin": "0", "aria-valuemax": "100" }, this.fill);
    this.time = h("span", { class: "agenda-time" }, "");
    this.next = h("p", { class: "agenda-next" }, "");
    this.wrap = h("p", { class: "wrapup", role: "status" }, "");
    body.append(this.item, h("div", { class: "agenda-bar" }, this.bar, this.time), this.next, this.wrap);
    this.element = root;
  }

  update(model: RoomModel): void {
    const a = model.agenda;
    if (a !== null) {
      const used = a.elapsedMs + Math.max(0, model.nowMs - a.atMs);
      const box = a.timeboxMs;
      setText(this.item, a.item);
      const frac = box ? Math.min(1, used / box) : 0;
      this.fill.style.transform = `scaleX(${frac})`;
      toggle(this.bar, "over", box !== null && used > box);
      setAttr(this.bar, "aria-valuenow", String(Math.round(frac * 100)));
      setText(this.time, box ? `${clock(used)} of ${clock(box)}${used > box ? " · over" : ""}` : clock(used));
      setText(this.next, a.next ? `Next: ${a.next}` : "Last item");
    }
    const w = model.wrapup;
    setText(this.wrap, w === null ? "" : w.message);
  }
}

// ---------------------------------------------------------------------------------------------
/** The open vote: question, a button per option, the viewer's ballot, the result when it closes. */
export class VotePanel {
  readonly element: HTMLElement;
  private readonly question: HTMLElement;
  private readonly buttons: HTMLElement;
  private readonly status: HTMLElement;
  private readonly result: HTMLElement;
  private voteId: string | null = null;
  private canVote = false;

  constructor(private readonly onVote: (voteId: string, option: string) => void) {
    const { root, body } = panel("Vote", "vote");
    this.question = h("p", { class: "vote-question" }, "No vote open");
    this.buttons = h("div", { class: "vote-options", role: "group", "aria-label": "vote options" });
    this.status = h("p", { class: "vote-status", role: "status", "aria-live": "polite" }, "");
    this.result = h("ul", { class: "vote-result", "aria-label": "result" });
    body.append(this.question, this.buttons, this.status, this.result);
    this.element = root;
  }

  /** Whether this viewer may vote (a view token with a participant id, or a Daily participant). */
  setCanVote(can: boolean): void {
    this.canVote = can;
  }

  update(model: RoomModel): void {
    const v = model.vote;
    if (v === null) return;
    if (v.voteId !== this.voteId) {
      this.voteId = v.voteId;
      this.buttons.replaceChildren(
        ...v.options.map((o) => {
          const b = h("button", { type: "button", "data-option": o }, o) as HTMLButtonElement;
          b.addEventListener("click", () => this.onVote(v.voteId, o));
          return b;
        }),
      );
      this.result.replaceChildren();
    }
    setText(this.question, v.question);
    const open = v.closed === null;
    for (const b of Array.from(this.buttons.children) as HTMLButtonElement[]) {
      const chosen = b.dataset.option === v.myChoice;
      b.disabled = !open || !this.canVote || v.myStatus === "sending";
      setAttr(b, "aria-pressed", String(chosen));
    }
    let status: string;
    if (!open) status = v.myChoice ? `Closed · your vote: "${v.myChoice}"` : "Closed";
    else if (!this.canVote) status = `Open · closes at ${clock(v.closesAtMs)} · this view can watch only`;
    else if (v.myStatus === "sending") status = `Sending your vote for "${v.myChoice}"…`;
    else if (v.myStatus === "sent") status = `Your vote: "${v.myChoice}" (counted when the vote closes; you can change it)`;
    else if (v.myStatus === "failed") status = `Your vote did not go through: ${v.myError ?? "error"}`;
    else status = `Open · closes at ${clock(v.closesAtMs)} · pick one`;
    setText(this.status, status);
    if (v.closed !== null && this.result.childElementCount === 0) {
      const total = Math.max(1, v.closed.totalVotes);
      const options = Array.from(new Set([...v.options, ...Object.keys(v.closed.tally)]));
      this.result.replaceChildren(
        ...options.map((o) => {
          const n = v.closed?.tally[o] ?? 0;
          const fill = h("span", { class: "fill" });
          fill.style.transform = `scaleX(${n / total})`;
          return h(
            "li",
            { "data-option": o, class: o === v.closed?.winner ? "winner" : "" },
            h("span", { class: "opt" }, o + (o === v.closed?.winner ? " ✓" : "")),
            h("span", { class: "bar" }, fill),
            h("span", { class: "count" }, `${n}`),
          );
        }),
        h("li", { class: "total" }, `${v.closed.totalVotes} vote${v.closed.totalVotes === 1 ? "" : "s"}`),
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
const KIND_LABEL: Record<string, string> = { facilitator: "Facilitator", policy: "Policy", interrupt: "Step-in", wrapup: "Wrap-up", agenda: "Agenda", vote: "Vote" };

/** Facilitator messages, policy violations (rule and action only, never the offending text), step-ins. */
export class FeedPanel {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly items = new Map<number, HTMLElement>();

  constructor() {
    const { root, body } = panel("Facilitator & policy", "feed");
    this.list = h("ol", { class: "feed-list", "aria-live": "polite", "aria-relevant": "additions" });
    body.append(this.list);
    this.element = root;
  }

  update(model: RoomModel): void {
    const keep = new Set(model.feed.map((f) => f.key));
    for (const [key, el] of this.items) {
      if (!keep.has(key)) {
        el.remove();
        this.items.delete(key);
      }
    }
    for (let i = model.feed.length - 1; i >= 0; i--) {
      const f = model.feed[i];
      if (f === undefined || this.items.has(f.key)) continue;
      const el = h("li", { class: `feed-item ${f.kind}` }, h("span", { class: "when" }, f.atMs === null ? "" : clock(f.atMs)), h("span", { class: "kind" }, KIND_LABEL[f.kind] ?? f.kind), h("span", { class: "text" }, f.text));
      this.items.set(f.key, el);
      this.list.prepend(el);
    }
  }
}

// ---------------------------------------------------------------------------------------------
/** Topics without a view of their own: name and count (a new topic shows up here first). */
export class OtherEventsPanel {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly rows = new Map<string, HTMLElement>();

  constructor() {
    const { root, body } = panel("Other events (no view of their own)", "other");
    this.list = h("ul", { class: "other-list" });
    body.append(this.list);
    this.element = root;
  }

  update(model: RoomModel): void {
    pruneRows(this.rows, model.other, (row) => row);
    for (const [topic, n] of model.other) {
      let row = this.rows.get(topic);
      if (row === undefined) {
        row = h("li", { "data-topic": topic }, h("code", {}, topic), h("span", { class: "count" }, ""));
        this.rows.set(topic, row);
        this.list.append(row);
      }
      const count = row.lastElementChild;
      if (count) setText(count, `× ${n}`);
    }
  }
}

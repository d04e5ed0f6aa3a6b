// The inspector's page shell and style. The behaviour is src/inspect/web/app.ts.

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function inspectHtml(databaseFile: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Parley inspect — ${escapeHtml(databaseFile)}</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<header>
  <h1>Parley inspect</h1>
  <span class="db">${escapeHtml(databaseFile)}</span>
  <span id="live" class="live off" title="new events appear as the server appends them">live: connecting</span>
</header>
<main>
  <nav>
    <input id="account-filter" type="search" placeholder="find an account" aria-label="find an account">
    <ul id="accounts"></ul>
    <button id="more-accounts" hidden>more…</button>
  </nav>
  <section id="content">
    <div class="tabs" role="tablist">
      <button id="tab-timeline" role="tab" aria-selected="true">Timeline</button>
      <button id="tab-account" role="tab" aria-selected="false" disabled>Time travel</button>
    </div>
    <div id="timeline-view">
      <form id="timeline-filters">
        <label>stream <input name="stream" placeholder="all, or account:romeo@localhost"></label>
        <label>types <input name="type" placeholder="e.g. ContactsBlocked,RosterItemSet"></label>
        <label>from <input name="from" placeholder="2026-11-24T15:00:00Z"></label>
        <label>until <input name="until" placeholder="time"></label>
        <button type="submit">show</button>
      </form>
      <p id="timeline-error" class="error" hidden></p>
      <table id="timeline"><thead><tr><th>#</th><th>recorded</th><th>stream</th><th>type</th><th>what happened</th><th>cause</th></tr></thead><tbody></tbody></table>
      <button id="older" hidden>older events</button>
    </div>
    <div id="account-view" hidden>
      <h2 id="account-name"></h2>
      <div class="travel">
        <button id="step-first" title="before the first event">start</button>
        <button id="step-back" title="one event back">◀</button>
        <input id="slider" type="range" min="0" max="0" value="0" aria-label="stream version">
        <button id="step-forward" title="one event forward">▶</button>
        <button id="step-last" title="the newest event">now</button>
        <span id="position"></span>
        <form id="goto"><input name="at" placeholder="go to event # or time"><button type="submit">go</button></form>
      </div>
      <p id="account-error" class="error" hidden></p>
      <div id="step" class="step"></div>
      <div class="columns">
        <div>
          <h3>Roster and pending requests</h3>
          <table id="roster"><thead><tr><th>contact</th><th>name</th><th>groups</th><th>subscription</th><th>RFC 6121 Appendix A</th></tr></thead><tbody></tbody></table>
          <h3>Block list</h3>
          <ul id="blocked"></ul>
        </div>
        <div id="story-panel" hidden>
          <h3 id="story-title"></h3>
          <svg id="model" viewBox="0 0 600 380" role="img" aria-label="the subscription state machine of RFC 6121 Appendix A"></svg>
          <ol id="story"></ol>
        </div>
      </div>
    </div>
  </section>
</main>
<script type="module" src="/app.js"></script>
</body>
</html>
`;
}

export const INSPECT_CSS = `
:root { font-family: system-ui, sans-serif; color: #1d2329; background: #fafbfc; }
header { display: flex; gap: 1em; align-items: baseline; padding: .5em 1em; background: #1f3a5f; color: #fff; }
header h1 { font-size: 1.1em; margin: 0; }
header .db { opacity: .8; font-family: monospace; }
.live { margin-left: auto; font-size: .9em; }
.live.on::before { content: "● "; color: #6f6; }
.live.off::before { content: "● "; color: #f96; }
main { display: grid; grid-template-columns: 16em 1fr; min-height: calc(100vh - 2.5em); }
nav { border-right: 1px solid #ccd; padding: .5em; overflow: auto; }
nav input { width: 100%; box-sizing: border-box; }
nav ul { list-style: none; padding: 0; margin: .5em 0; }
nav li button { all: unset; cursor: pointer; display: block; width: 100%; padding: .15em .3em; font-family: monospace; font-size: .9em; }
nav li button:hover, nav li button.selected { background: #dde6f2; }
#content { padding: .5em 1em; overflow: auto; }
.tabs button { padding: .3em 1em; }
.tabs button[aria-selected="true"] { font-weight: bold; border-bottom: 2px solid #1f3a5f; }
form { display: flex; flex-wrap: wrap; gap: .5em; margin: .5em 0; align-items: center; }
table { border-collapse: collapse; width: 100%; font-size: .9em; }
th, td { text-align: left; padding: .2em .4em; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
td.num { font-family: monospace; }
tr.event { cursor: pointer; }
tr.event:hover { background: #f0f4fa; }
tr.fresh { animation: fresh 2s; }
@keyframes fresh { from { background: #fff4b0; } to { background: transparent; } }
pre.payload { margin: 0; font-size: .85em; white-space: pre-wrap; background: #f3f3f3; padding: .4em; }
.error { color: #a40000; }
.travel { display: flex; gap: .4em; align-items: center; flex-wrap: wrap; }
#slider { flex: 1; min-width: 12em; }
.step { margin: .6em 0; padding: .5em; background: #eef3f9; border-left: 4px solid #1f3a5f; }
.step .changed { color: #135d13; }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
#roster tr { cursor: pointer; }
#roster tr.blocked td:first-child::after { content: " (blocked)"; color: #a40000; }
#roster tr.selected { background: #dde6f2; }
svg#model { width: 100%; max-width: 600px; background: #fff; border: 1px solid #dde; }
svg .edge { stroke: #b8c0cc; stroke-width: 1; fill: none; }
svg .edge.taken { stroke: #d2691e; stroke-width: 3; }
svg .state rect { fill: #fff; stroke: #556; }
svg .state.visited rect { fill: #ffe9d6; }
svg .state.current rect { fill: #d2691e; }
svg .state.current text { fill: #fff; }
svg text { font-size: 12px; text-anchor: middle; dominant-baseline: middle; }
#story li { margin: .3em 0; }
#story li.current { font-weight: bold; }
`;

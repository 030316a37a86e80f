"""Server-rendered pages: the dashboard and the local chat. No build step."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape

from core.records import Person
from gateway.status import COLUMNS, Status
from workflows.texts import ui

STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;
background:#f4f6f8;color:#1d2733}
header{background:#1f6f5c;color:#fff;padding:12px 20px;display:flex;gap:20px;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600}
main{max-width:980px;margin:20px auto;padding:0 16px}
table{border-collapse:collapse;width:100%;background:#fff;margin-bottom:24px}
th,td{padding:8px 10px;border-bottom:1px solid #e3e8ee;text-align:left}
th{background:#eef2f5}
.num{text-align:right}
.card{background:#fff;border-radius:10px;padding:16px;margin-bottom:16px;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
button,.btn{font-size:16px;padding:8px 14px;border-radius:8px;border:1px solid #1f6f5c;
background:#fff;color:#1f6f5c;cursor:pointer}
button.primary{background:#1f6f5c;color:#fff}
.people a{display:block;padding:10px;border-bottom:1px solid #e3e8ee;color:#1d2733;
text-decoration:none}
.role{color:#6b7785;font-size:14px}
#log{height:60vh;overflow-y:auto;background:#e9eef2;padding:12px;border-radius:10px}
.msg{max-width:75%;margin:8px 0;padding:10px 12px;border-radius:12px;white-space:pre-wrap;
background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.msg.me{margin-left:auto;background:#d9f5c5}
.msg.toast{background:#fff6d6;font-size:14px}
.msg .edited{color:#6b7785;font-size:12px}
.msg .buttons{margin-top:8px;display:flex;gap:8px;flex-wrap:wrap}
form.send{display:flex;gap:8px;margin-top:10px}
a.reply{display:block;font-size:15px;margin-top:4px}
.hint{color:#555;font-size:16px;margin:6px 0}
.card.warn{border-left:6px solid #c0392b}
button.danger{border-color:#b3261e;color:#b3261e;margin-top:8px}
form.send input{flex:1;font-size:18px;padding:10px;border-radius:8px;border:1px solid #c5ced8}
.urgent{color:#b3261e;font-weight:700}
"""


def page(title: str, body: str, lang: str = "zh") -> str:
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<header><a href="/">{escape(ui(lang, "title"))}</a>'
        f'<a href="/">{escape(ui(lang, "dashboard"))}</a>'
        f'<a href="/chat">{escape(ui(lang, "chat_title"))}</a></header>'
        f"<main>{body}</main></body></html>"
    )


@dataclass(frozen=True)
class AlertLine:
    id: int
    resident: str
    place: str
    reason: str
    state: str
    opened: str
    urgent: bool


def dashboard(status: Status, alerts: list[AlertLine], lang: str, notice: str = "") -> str:
    head = "".join(f'<th class="num">{escape(ui(lang, c))}</th>' for c in COLUMNS)
    rows = (
        "".join(
            f"<tr><td>{escape(g.grid)}</td>"
            + "".join(f'<td class="num">{getattr(g, c)}</td>' for c in COLUMNS)
            + "</tr>"
            for g in status.grids
        )
        or f'<tr><td colspan="6">{escape(ui(lang, "none"))}</td></tr>'
    )
    alert_rows = (
        "".join(
            f"<tr><td>#{a.id}</td><td>{escape(a.resident)} ({escape(a.place)})</td>"
            f'<td class="{"urgent" if a.urgent else ""}">{escape(a.reason)}</td>'
            f"<td>{escape(a.state)}</td><td>{escape(a.opened)}</td></tr>"
            for a in alerts
        )
        or f'<tr><td colspan="5">{escape(ui(lang, "none"))}</td></tr>'
    )
    warnings = "".join(
        f'<div class="card warn">{escape(ui(lang, "grid_without_leader", grid=grid or "-"))}</div>'
        for grid in status.grids_without_leader
    )
    body = (
        (f'<div class="card">{escape(notice)}</div>' if notice else "")
        + warnings
        + f"<h2>{escape(ui(lang, 'today'))} · {escape(status.day)}</h2>"
        + f"<table><tr><th>{escape(ui(lang, 'grid'))}</th>{head}</tr>{rows}</table>"
        + f"<h2>{escape(ui(lang, 'open_alerts'))} ({status.open_alerts})</h2>"
        + f"<table><tr><th>#</th><th>{escape(ui(lang, 'resident'))}</th>"
        + f"<th>{escape(ui(lang, 'reason'))}</th><th>{escape(ui(lang, 'state'))}</th>"
        + f"<th>{escape(ui(lang, 'opened'))}</th></tr>{alert_rows}</table>"
        + f"<p>{escape(ui(lang, 'outbox'))}: {status.outbox_pending}</p>"
        + '<form method="post" action="/rounds"><button class="primary">'
        + f"{escape(ui(lang, 'start_round'))}</button></form>"
        + '<form method="post" action="/rounds" '
        + f"onsubmit=\"return confirm('{escape(ui(lang, 'emergency_confirm'))}')\">"
        + '<input type="hidden" name="emergency" value="1">'
        + f'<button class="danger">{escape(ui(lang, "start_emergency_round"))}</button></form>'
    )
    return page(ui(lang, "title"), body, lang)


def chat_picker(people: list[Person], role_names: dict[str, str], lang: str) -> str:
    links = "".join(
        f'<a href="/chat/{p.id}">{escape(p.name)} '
        f'<span class="role">{escape(role_names.get(p.role, p.role))}'
        f"{' · ' + escape(p.place) if p.place else ''}</span></a>"
        for p in people
    )
    body = (
        f"<h2>{escape(ui(lang, 'chat_title'))}</h2><p>{escape(ui(lang, 'chat_pick'))}</p>"
        f'<div class="card people">{links}</div>'
    )
    return page(ui(lang, "chat_title"), body, lang)


CHAT_SCRIPT = """
const log = document.getElementById('log');
const hint = document.getElementById('replying');
const labels = JSON.parse(document.getElementById('labels').textContent);
const base = location.pathname;
let replyTo = '';
function render(m) {
  let el = document.getElementById('m' + m.id);
  if (!el) { el = document.createElement('div'); el.id = 'm' + m.id; log.appendChild(el); }
  el.className = 'msg' + (m.from_bot ? '' : ' me') + (m.toast ? ' toast' : '');
  el.textContent = m.text;
  if (m.edited) { const s = document.createElement('div'); s.className = 'edited';
    s.textContent = '✎'; el.appendChild(s); }
  if (m.buttons.length) {
    const box = document.createElement('div'); box.className = 'buttons';
    for (const row of m.buttons) for (const b of row) {
      const btn = document.createElement('button'); btn.textContent = b.label;
      btn.onclick = () => fetch(base + '/press', {method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({token: b.token, message_id: m.id})});
      box.appendChild(btn);
    }
    el.appendChild(box);
  }
  if (m.from_bot && !m.toast) {
    const r = document.createElement('a'); r.href = '#'; r.className = 'reply';
    r.textContent = labels.reply;
    r.onclick = ev => { ev.preventDefault(); replyTo = m.id;
      hint.textContent = labels.replying + ' ' + m.text.split('\\n')[0]; hint.hidden = false; };
    el.appendChild(r);
  }
  log.scrollTop = log.scrollHeight;
}
fetch(base + '/history').then(r => r.json()).then(ms => ms.forEach(render));
const events = new EventSource(base + '/events');
events.onmessage = e => render(JSON.parse(e.data));
document.getElementById('send').onsubmit = e => {
  e.preventDefault();
  const input = document.getElementById('text');
  if (!input.value.trim()) return;
  fetch(base + '/send', {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({text: input.value, reply_to: replyTo})});
  input.value = ''; replyTo = ''; hint.hidden = true;
};
"""


def chat_room(person: Person, role_name: str, lang: str) -> str:
    # JSON inside <script>: "<" escaped so no label can close the element.
    labels = json.dumps(
        {"reply": ui(lang, "chat_reply"), "replying": ui(lang, "chat_replying")},
        ensure_ascii=False,
    ).replace("<", "\\u003c")
    body = (
        f'<p><a href="/chat">{escape(ui(lang, "chat_back"))}</a></p>'
        f"<h2>{escape(person.name)}</h2>"
        f"<p>{escape(ui(lang, 'chat_intro', name=person.name, role=role_name))}</p>"
        f'<div id="log"></div>'
        f'<p id="replying" class="hint" hidden></p>'
        f'<script id="labels" type="application/json">{labels}</script>'
        f'<form id="send" class="send"><input id="text" autocomplete="off" '
        f'placeholder="{escape(ui(lang, "chat_placeholder"))}">'
        f'<button class="primary">{escape(ui(lang, "chat_send"))}</button></form>'
        f"<script>{CHAT_SCRIPT}</script>"
    )
    return page(person.name, body, lang)

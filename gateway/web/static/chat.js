// The local web chat (demo and training): one person's chat window.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var hint = document.getElementById("replying");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var base = location.pathname;
  var replyTo = "";
  function post(path, body) {
    return fetch(base + path, {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body)
    });
  }
  function render(m) {
    var el = document.getElementById("m" + m.id);
    if (!el) { el = document.createElement("div"); el.id = "m" + m.id; log.appendChild(el); }
    el.className = "msg" + (m.from_bot ? "" : " me") + (m.toast ? " toast" : "");
    el.textContent = m.text;
    if (m.edited) {
      var s = document.createElement("div"); s.className = "edited"; s.textContent = "✎";
      el.appendChild(s);
    }
    if (m.buttons.length) {
      var box = document.createElement("div"); box.className = "buttons";
      m.buttons.forEach(function (row) {
        row.forEach(function (b) {
          var btn = document.createElement("button"); btn.type = "button"; btn.textContent = b.label;
          btn.onclick = function () { post("/press", {token: b.token, message_id: m.id}); };
          box.appendChild(btn);
        });
      });
      el.appendChild(box);
    }
    if (m.from_bot && !m.toast) {
      var r = document.createElement("a"); r.href = "#"; r.className = "reply";
      r.textContent = log.dataset.reply;
      r.onclick = function (ev) {
        ev.preventDefault(); replyTo = m.id;
        hint.textContent = log.dataset.replying + " " + m.text.split("\n")[0]; hint.hidden = false;
      };
      el.appendChild(r);
    }
    log.scrollTop = log.scrollHeight;
  }
  // The stream first, the history once it is open: a message sent in between is in
  // one or the other (render() keeps one copy of each).
  var events = new EventSource(base + "/events");
  events.onmessage = function (e) { render(JSON.parse(e.data)); };
  events.onopen = function () {
    fetch(base + "/history").then(function (r) { return r.json(); })
      .then(function (ms) { ms.forEach(render); });
  };
  document.getElementById("send").onsubmit = function (e) {
    e.preventDefault();
    var input = document.getElementById("text");
    if (!input.value.trim()) return;
    post("/send", {text: input.value, reply_to: replyTo});
    input.value = ""; replyTo = ""; hint.hidden = true;
  };
})();

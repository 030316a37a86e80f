// The console's own script: live refresh, confirmations. No build step.
(function () {
  "use strict";
  // Something changed (the server says so over server-sent events): every live part of
  // the page fetches itself again. Without the stream, parts poll (hx-trigger "every").
  function changed() {
    document.body.dispatchEvent(new CustomEvent("cc:changed"));
  }
  var fallback = null;
  function poll() {
    document.documentElement.setAttribute("data-live", "polling");
    // Every 2 s: a row still changes within about 2 s of an answer without the stream.
    if (fallback === null) fallback = setInterval(changed, 2000);
  }
  function listen() {
    if (!document.querySelector("[data-live]")) return;
    if (!window.EventSource) { poll(); return; }
    var source = new EventSource("/events");
    source.addEventListener("changed", changed);
    source.addEventListener("ready", function () {
      document.documentElement.setAttribute("data-live", "stream");
      if (fallback !== null) { clearInterval(fallback); fallback = null; changed(); }
    });
    source.onerror = function () {
      // The browser reconnects by itself; meanwhile, and if it gives up, poll.
      poll();
    };
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);
  // A file field of our own (people.html): show which file was chosen.
  document.addEventListener("change", function (event) {
    var input = event.target;
    var shows = input.getAttribute && input.getAttribute("data-shows");
    var target = shows && document.getElementById(shows);
    if (target && input.files && input.files.length) target.textContent = input.files[0].name;
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) window.print();
  });
  document.addEventListener("DOMContentLoaded", listen);
})();

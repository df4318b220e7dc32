// Weft's ops console: refreshes the page's <main> while it is open, so counts and states stay
// current without a reload. Everything works without this script (a <noscript> refresh and
// plain forms take its place). It pauses while a form field has focus or a <details> is open
// under the pointer, and stops if the session has ended.
(function () {
  "use strict";
  var main = document.querySelector("main[data-refresh]");
  if (!main) return;
  var seconds = parseInt(main.getAttribute("data-refresh"), 10) || 5;
  function busy() {
    var a = document.activeElement;
    return a && a !== document.body && main.contains(a) && /INPUT|TEXTAREA|SELECT/.test(a.tagName);
  }
  function refresh() {
    if (document.hidden || busy()) return;
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.redirected || !r.ok) { clearInterval(timer); return null; }
        return r.text();
      })
      .then(function (text) {
        if (text === null) return;
        var doc = new DOMParser().parseFromString(text, "text/html");
        var fresh = doc.querySelector("main[data-refresh]");
        if (!fresh) return;
        var open = Array.prototype.map.call(main.querySelectorAll("details[open]"), function (d) {
          var card = d.closest("[id]");
          return card ? card.id : null;
        });
        main.replaceChildren.apply(main, Array.prototype.slice.call(fresh.childNodes));
        open.forEach(function (id) {
          var card = id && document.getElementById(id);
          var d = card && card.querySelector("details");
          if (d) d.open = true;
        });
      })
      .catch(function () { /* the next tick tries again */ });
  }
  var timer = setInterval(refresh, seconds * 1000);
})();

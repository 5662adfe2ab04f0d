// Progressive enhancement only: every page works without this file.
// Served from /static/app.js because the CSP allows no inline script (script-src 'self').
"use strict";

(function () {
  // == The walkthrough: numbered arrows open their step's details =========================
  function setUpWalkthrough() {
    // The step arrows; the fetch arrows (discovery, JWKS) are plain links to their URL.
    var arrows = Array.prototype.slice.call(document.querySelectorAll(".step-link[data-step]"));
    var panels = Array.prototype.slice.call(document.querySelectorAll(".step-detail"));
    if (!arrows.length || !panels.length) return;

    function select(step, how) {
      var panel = document.getElementById("step-" + step);
      if (!panel) return;
      panels.forEach(function (p) { p.hidden = p !== panel; });
      arrows.forEach(function (a) {
        var on = a.getAttribute("data-step") === String(step);
        a.setAttribute("aria-expanded", on ? "true" : "false");
        if (on) a.setAttribute("aria-current", "step"); else a.removeAttribute("aria-current");
      });
      if (how === "initial") return;
      history.replaceState(null, "", "#step-" + step);
      // The pager's link is now hidden; on a phone the details are far below the arrow:
      // either way focus goes to the panel, and its "Back to the diagram" link returns it.
      if (how === "pager" || !sideBySide()) showFocus(panel);
      var top = panel.getBoundingClientRect().top;
      if (top < 0 || top > window.innerHeight - 120) panel.scrollIntoView({ block: "start" });
    }

    panels.forEach(addBackLink);

    document.addEventListener("click", function (event) {
      var back = event.target.closest ? event.target.closest(".back-to-diagram") : null;
      if (back) {                               // to the arrow of the step that is open
        event.preventDefault();
        var arrow = document.getElementById(back.getAttribute("href").slice(1));
        if (arrow) { showFocus(arrow); arrow.scrollIntoView({ block: "center" }); }
        return;
      }
      var link = event.target.closest ? event.target.closest("a[data-step]") : null;
      if (!link) return;
      event.preventDefault();
      select(link.getAttribute("data-step"), link.classList.contains("step-nav") ? "pager" : "arrow");
    });
    // Links open on Enter by themselves; Space opens a step too, as on a button.
    document.addEventListener("keydown", function (event) {
      if (event.key !== " " && event.key !== "Spacebar") return;
      var link = event.target.closest ? event.target.closest(".step-link[data-step]") : null;
      if (!link) return;
      event.preventDefault();
      select(link.getAttribute("data-step"), "arrow");
    });

    var match = /^#step-(\d+)$/.exec(location.hash);
    var shown = panels.filter(function (p) { return !p.hidden; })[0];
    select(match ? match[1] : (shown ? shown.id.slice(5) : 1), "initial");
  }

  // Beside each other (the CSS breakpoint): the details are in view, focus stays on the arrow.
  function sideBySide() {
    return window.matchMedia("(min-width: 980px)").matches;
  }

  function addBackLink(panel) {
    var back = document.createElement("a");
    back.className = "back-to-diagram";
    back.href = "#arrow-" + panel.id.slice(5);
    back.textContent = "Back to the diagram";
    panel.insertBefore(back, panel.firstChild);
  }

  // == The attack lab: run an attack without leaving the page ==============================
  function setUpAttackLab() {
    if (!document.querySelector("form.attack-run")) return;
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.classList || !form.classList.contains("attack-run")) return;
      event.preventDefault();
      runAttack(form);
    });
  }

  function runAttack(form) {
    var letter = form.getAttribute("data-attack");
    var buttons = document.querySelectorAll("form.attack-run button");
    var regions = letter === "all" ? document.querySelectorAll(".attack-result")
                                   : [document.getElementById("result-" + letter)];
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
    Array.prototype.forEach.call(regions, function (r) { showMessage(r, "running", "Running the attack…"); });
    fetch(form.action, { method: "POST", body: new URLSearchParams(new FormData(form)),
                         credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("the lab answered HTTP " + response.status + "; reload the page");
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        ["scoreboard", "summary", "codes"].concat(Array.prototype.map.call(regions, function (r) { return r.id; }))
          .forEach(function (id) {
            swapContent(fresh, id);
            var region = document.getElementById(id);
            if (region) { setUpCopyButtons(region); focusableScrollers(region); }
          });
        var target = letter === "all" ? document.getElementById("scoreboard") : regions[0];
        if (target) { target.setAttribute("tabindex", "-1"); showFocus(target); }
      })
      .catch(function (error) {
        Array.prototype.forEach.call(regions, function (r) { showMessage(r, "accepted", String(error.message || error)); });
      })
      .then(function () {
        Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
      });
  }

  function swapContent(fresh, id) {
    var from = fresh.getElementById(id), to = document.getElementById(id);
    if (!from || !to) return;
    to.className = from.className;
    to.replaceChildren.apply(to, Array.prototype.map.call(from.childNodes, function (node) {
      return document.importNode(node, true);
    }));
  }

  function showMessage(region, kind, text) {
    if (!region) return;
    var p = document.createElement("p");
    p.className = "verdict " + kind;
    p.textContent = text;
    region.replaceChildren(p);
  }

  // Focus moved by script is shown, however the move was asked for (mouse or keyboard).
  function showFocus(element) {
    element.focus({ focusVisible: true });
  }

  // == Copy buttons: every token, URL and the curl command ===================================
  // What gets one: a revealed token, the PKCE values, URLs (a <code> that holds only a URL, an
  // endpoint, a request line in <pre class="url">), the profile's curl command, and anything a
  // template marks with data-copy. The button copies the text itself, never something hidden.
  var COPY_TARGETS = "details.reveal > code, code.secret, code.public, code.url, pre.url, " +
                     "details:not(.reveal):not(.sent) > pre, [data-copy]";
  var NO_COPY_INSIDE = ".step-link, summary, button, .verdict, .copy-button";
  var URL_ONLY = /^https?:\/\/\S+$/;

  function setUpCopyButtons(root) {
    var found = Array.prototype.slice.call(root.querySelectorAll(COPY_TARGETS + ", code"));
    found.filter(function (el) {
      if (el.closest(NO_COPY_INSIDE) || el.hasAttribute("data-copy-ready")) return false;
      return el.matches(COPY_TARGETS) || URL_ONLY.test(el.textContent.trim());
    }).forEach(function (el) { addCopyButton(el, copyStatus()); });
  }

  // One polite live region says "Copied" to screen readers; it is created before it is needed.
  function copyStatus() {
    var status = document.getElementById("copy-status");
    if (status) return status;
    status = document.createElement("p");
    status.id = "copy-status";
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    (document.getElementById("main") || document.body).appendChild(status);
    return status;
  }

  function addCopyButton(el, status) {
    var name = copyName(el);
    el.setAttribute("data-copy-ready", "");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "copy-button";
    button.textContent = "Copy";
    button.setAttribute("aria-label", "Copy " + name);
    button.addEventListener("click", function () {
      copyText(copyValue(el)).then(function () { said(status, button, "Copied"); },
                                   function () { said(status, button, "Copy failed: select the text instead"); });
    });
    if (el.matches("details.reveal > code")) scrollBox(el, name);
    var after = el.closest("a, details.reveal") || el;   // never a button inside a link
    after.parentNode.insertBefore(button, after.nextSibling);
  }

  // A revealed token is one long word: on a phone it would be a ribbon many screens long.
  function scrollBox(el, name) {
    el.classList.add("scroll-box");
    el.setAttribute("tabindex", "0");
    el.setAttribute("role", "group");    // not a landmark: a page may reveal many values
    el.setAttribute("aria-label", name + ", the whole value");
  }

  function copyName(el) {
    if (el.hasAttribute("data-copy")) return el.getAttribute("data-copy") || "the value";
    if (el.matches("pre.url")) return "the request URL" + inStep(el);
    if (el.matches("pre")) return "the curl command";
    var row = el.closest("tr"), label = row && row.querySelector("th");
    if (label) return label.textContent.trim() + inStep(el);
    var item = el.closest("li"), part = item && item.querySelector(".pipe-label, .endpoint-name");
    if (part) return part.textContent.split("·")[0].trim();
    if (el.id) return el.id.replace(/-/g, " ");
    return URL_ONLY.test(el.textContent.trim()) ? "the URL" : "the value";
  }

  // Names are unique on the page: the same field appears in several steps of the walkthrough.
  function inStep(el) {
    var panel = el.closest(".step-detail");
    return panel ? " (Step " + panel.id.slice(5) + ")" : "";
  }

  // Every <pre> may scroll (a long line, a capped height): it takes keyboard focus, so that
  // it can be scrolled without a mouse.
  function focusableScrollers(root) {
    Array.prototype.forEach.call(root.querySelectorAll("pre:not([tabindex])"), function (pre) {
      pre.setAttribute("tabindex", "0");
    });
  }

  // A <pre class="url"> shows a request one parameter a line: copy it as one URL.
  function copyValue(el) {
    var text = el.textContent.trim();
    if (!el.matches("pre.url")) return text;
    var lines = text.split("\n").map(function (line) { return line.trim(); });
    var url = lines[0].replace(/^[A-Z]+ /, "");
    lines.slice(1).forEach(function (line) { if (/^[?&]/.test(line)) url += line; });
    return url;
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return copyByCommand(text); });
    }
    return copyByCommand(text);
  }

  function copyByCommand(text) {   // older browsers, or a page that is not a secure context
    var area = document.createElement("textarea");
    area.value = text;
    area.className = "visually-hidden";
    area.setAttribute("readonly", "");
    area.setAttribute("aria-hidden", "true");
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    area.remove();
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function said(status, button, text) {
    status.textContent = "";                   // the same words twice are announced twice
    window.setTimeout(function () { status.textContent = text; }, 50);
    button.textContent = text === "Copied" ? "Copied" : "Copy";
    window.clearTimeout(button.copyTimer);
    button.copyTimer = window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
  }

  // == The step-through: a field no longer holding the value your app built says so =========
  // The masked value and the request preview show what the app built; the edit is marked
  // "(edited)" beside the field and on the preview's line (the UI review: it looked unchanged).
  function setUpStepFields() {
    document.addEventListener("input", function (event) {
      var input = event.target;
      if (!input.matches || !input.matches("input.step-input")) return;
      var name = input.name.replace(/^p_/, ""), edited = input.value !== input.defaultValue;
      var mark = document.getElementById("e-" + name);
      if (mark) mark.hidden = !edited;
      var line = document.querySelector("pre[data-request] [data-param=\"" + CSS.escape(name) + "\"]");
      if (line) line.toggleAttribute("data-edited", edited);
    });
  }

  // Arriving at a #fragment (a mistake just run, the restored form): focus lands there, so
  // a keyboard or screen-reader user starts at the result, like the attack lab's.
  function focusOnArrival() {
    var target = location.hash && document.getElementById(location.hash.slice(1));
    if (!target) return;
    var to = target.matches("[data-arrive]") ? target : target.querySelector("[data-arrive]");
    if (to) showFocus(to);
  }

  setUpWalkthrough();
  setUpAttackLab();
  setUpStepFields();
  var main = document.getElementById("main");
  if (main) { setUpCopyButtons(main); focusableScrollers(main); }
  // After the browser's own scroll to the fragment (Chrome clears focus when its target is
  // not focusable itself): on load, then once more.
  window.addEventListener("load", function () { window.setTimeout(focusOnArrival, 0); });
})();

// Progressive enhancement only: every page works without this file.
// Served from /static/app.js because the CSP allows no inline script (script-src 'self').
"use strict";

(function () {
  // == The walkthrough: numbered arrows open their step's details =========================
  function setUpWalkthrough() {
    var arrows = Array.prototype.slice.call(document.querySelectorAll(".step-link"));
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
      if (how === "pager") panel.focus();   // the link that was used is now hidden
      var top = panel.getBoundingClientRect().top;
      if (top < 0 || top > window.innerHeight - 120) panel.scrollIntoView({ block: "start" });
    }

    document.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a[data-step]") : null;
      if (!link) return;
      event.preventDefault();
      select(link.getAttribute("data-step"), link.classList.contains("step-nav") ? "pager" : "arrow");
    });
    // Links open on Enter by themselves; Space opens a step too, as on a button.
    document.addEventListener("keydown", function (event) {
      if (event.key !== " " && event.key !== "Spacebar") return;
      var link = event.target.closest ? event.target.closest(".step-link") : null;
      if (!link) return;
      event.preventDefault();
      select(link.getAttribute("data-step"), "arrow");
    });

    var match = /^#step-(\d+)$/.exec(location.hash);
    var shown = panels.filter(function (p) { return !p.hidden; })[0];
    select(match ? match[1] : (shown ? shown.id.slice(5) : 1), "initial");
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
          .forEach(function (id) { swapContent(fresh, id); });
        var target = letter === "all" ? document.getElementById("scoreboard") : regions[0];
        if (target) { target.setAttribute("tabindex", "-1"); target.focus(); }
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

  setUpWalkthrough();
  setUpAttackLab();
})();

// Read aloud (长辈版): a button with data-read="<element id>" reads that element's text with the
// browser's speech synthesis (Web Speech API), in the page's language — a zh-CN voice on the
// Chinese page. A second press stops. No inline script, no eval (our CSP forbids both); the
// text is read from the page, never built into markup.
(function () {
  "use strict";
  var synth = window.speechSynthesis;
  var speaking = null;

  function voiceFor(lang) {
    var voices = synth.getVoices() || [];
    var exact = voices.filter(function (v) { return v.lang.replace("_", "-") === lang; });
    if (exact.length) { return exact[0]; }
    var prefix = lang.split("-")[0];
    var near = voices.filter(function (v) { return v.lang.indexOf(prefix) === 0; });
    return near.length ? near[0] : null;
  }

  function reset() {
    if (speaking) { speaking.setAttribute("aria-pressed", "false"); }
    speaking = null;
  }

  function read(button) {
    var target = document.getElementById(button.getAttribute("data-read") || "main");
    if (!target) { return; }
    var pressed = speaking === button;
    synth.cancel();
    reset();
    if (pressed) { return; }
    // the words on the card, not the labels of its buttons
    var blocks = target.querySelectorAll("h1, h2, h3, p, li");
    var parts = Array.prototype.map.call(blocks, function (el) {
      return (el.innerText || "").replace(/\s+/g, " ").trim();
    }).filter(function (t) { return t; });
    var text = parts.join("。 ");
    var utterance = new SpeechSynthesisUtterance(text);
    var lang = document.documentElement.getAttribute("lang") || "zh-CN";
    utterance.lang = lang;
    var voice = voiceFor(lang);
    if (voice) { utterance.voice = voice; }
    utterance.rate = 0.9;
    utterance.onend = reset;
    utterance.onerror = reset;
    speaking = button;
    button.setAttribute("aria-pressed", "true");
    synth.speak(utterance);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var buttons = document.querySelectorAll("button[data-read]");
    Array.prototype.forEach.call(buttons, function (button) {
      if (!synth || typeof SpeechSynthesisUtterance === "undefined") {
        button.hidden = true; // no speech in this browser: no button that does nothing
        return;
      }
      button.addEventListener("click", function () { read(button); });
    });
  });
}());

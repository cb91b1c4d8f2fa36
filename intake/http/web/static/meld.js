/* Meld's pages work without this script; it only adds comfort:
 * - the subcategory list shows the chosen category's subcategories only;
 * - the severity question fits the chosen kind (a suggestion has not happened yet);
 * - the error summary's links focus their field and show its question;
 * - the receipt's private link gets a copy button;
 * - while a report is written, open reports like it are shown ("Dette har skjedd meg
 *   også"): the server picks them from the category, place and text so far;
 * - while a report is written, Meld's category suggestion from the text is shown (a live
 *   region, so screen readers announce it) with buttons that choose it in the lists.
 *   Without this script the server files an uncategorised report under its suggestion.
 * No framework, no inline script: the Content-Security-Policy allows scripts from Meld only.
 */
(function () {
  "use strict";

  function byId(id) {
    return document.getElementById(id);
  }

  // Functions to run again on "pageshow": when the browser brings a page back from its
  // history, it restores what was chosen only after "load", without change events.
  var refreshers = [];

  function subcategories() {
    var category = byId("category");
    var select = byId("subcategory");
    var field = byId("subcategory-field");
    if (!category || !select || !field) {
      return;
    }
    var hint = byId("subcategory-hint");
    if (hint) {
      hint.hidden = true; // it explains the full, grouped list shown without this script
      select.removeAttribute("aria-describedby");
      if (byId("subcategory-error")) {
        select.setAttribute("aria-describedby", "subcategory-error");
      }
    }
    var groups = Array.prototype.slice.call(select.querySelectorAll("optgroup"));
    // Options are hidden and disabled, never removed: the browser can then restore a choice.
    function show() {
      var chosen = null;
      groups.forEach(function (group) {
        var mine = group.getAttribute("data-category") === category.value;
        group.hidden = !mine;
        group.disabled = !mine;
        Array.prototype.forEach.call(group.children, function (option) {
          option.hidden = !mine;
          option.disabled = !mine;
        });
        if (mine) {
          chosen = group;
        }
      });
      var current = select.options[select.selectedIndex];
      if (current && current.disabled) {
        select.value = "";
      }
      // a category without subcategories hides the field, unless it shows the server's error
      field.hidden = !chosen && !byId("subcategory-error");
    }
    category.addEventListener("change", show);
    refreshers.push(show);
    show();
  }

  function severityQuestion() {
    var question = byId("severity-question");
    var kinds = document.querySelectorAll("input[name=kind]");
    if (!question || !kinds.length) {
      return;
    }
    var field = byId("severity-field");
    function update() {
      var checked = document.querySelector("input[name=kind]:checked");
      var deviation = !checked || checked.value === "deviation";
      question.textContent = question.getAttribute(deviation ? "data-deviation" : "data-other");
      // good collaboration asks no harm: its question is hidden, and not sent
      var good = !!checked && checked.value === "good_collaboration";
      if (field) {
        field.hidden = good;
        field.disabled = good;
      }
    }
    Array.prototype.forEach.call(kinds, function (radio) {
      radio.addEventListener("change", update);
    });
    refreshers.push(update);
    update();
  }

  function errorSummary() {
    var summary = byId("error-summary");
    if (!summary) {
      return;
    }
    // the summary has autofocus (so focus moves there without this script too)
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var target = link && byId(link.getAttribute("href").slice(1));
      if (!target) {
        return;
      }
      event.preventDefault();
      // show the field's question too: its legend, or its label
      var fieldset = target.closest("fieldset");
      var caption = (fieldset && fieldset.querySelector("legend")) ||
        document.querySelector("label[for='" + target.id + "']") || target;
      caption.scrollIntoView();
      target.focus({ preventScroll: true });
    });
  }

  function copyByHand(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (err) {
      copied = false;
    }
    document.body.removeChild(area);
    return copied;
  }

  function copyButton() {
    var button = byId("copy-link");
    var status = byId("copy-status");
    var link = byId("private-link");
    if (!button || !status || !link) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy");
      function done(copied) {
        status.textContent = button.getAttribute(copied ? "data-copied" : "data-failed");
        if (!copied) {
          var range = document.createRange();
          range.selectNodeContents(link);
          var selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
        }
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () {
          done(true);
        }, function () {
          done(copyByHand(text));
        });
      } else {
        done(copyByHand(text));
      }
    });
  }

  // Meld's HTML fragment for a live region (its data-source) and a query; `show` gets it
  // when it comes. Nothing on a failure: the form works as before without it.
  function fragment(region, query, show) {
    window.fetch(region.getAttribute("data-source") + "?" + query, {
      credentials: "same-origin",
      headers: { "Accept": "text/html" }
    }).then(function (response) {
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (html !== null) {
        show(html);
      }
    }, function () { /* no fragment */ });
  }

  function suggestions() {
    var region = byId("suggestions");
    var category = byId("category");
    var place = byId("place");
    var text = byId("description");
    if (!region || !category || !window.fetch || !window.URLSearchParams) {
      return;
    }
    var timer = null;
    var asked = "";
    function ask() {
      var chosen = category.value || suggestedCategory();
      if (!chosen) {
        region.innerHTML = "";
        asked = "";
        return;
      }
      var query = new URLSearchParams({
        category: chosen,
        place: place ? place.value : "",
        text: text ? text.value.slice(0, 2000) : ""
      }).toString();
      if (query === asked) {
        return;
      }
      asked = query;
      fragment(region, query, function (html) {
        // the newest answer only; the fragment is Meld's own page, its values escaped
        if (query === asked) {
          region.innerHTML = html;
        }
      });
    }
    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, 600);
    }
    category.addEventListener("change", ask);
    if (place) {
      place.addEventListener("change", ask);
    }
    if (text) {
      text.addEventListener("input", later);
    }
    document.addEventListener("meld:suggested", ask);
  }

  // the category Meld suggests for the text so far (from the live region), or ""
  function suggestedCategory() {
    var shown = document.querySelector("#category-suggestion .suggested");
    return shown ? shown.getAttribute("data-category") : "";
  }

  function categorySuggestion() {
    var region = byId("category-suggestion");
    var category = byId("category");
    var sub = byId("subcategory");
    var text = byId("description");
    if (!region || !category || !text || !window.fetch || !window.URLSearchParams) {
      return;
    }
    var timer = null;
    var asked = "";
    function reveal() {
      // the buttons work only with this script: the server's page keeps them hidden
      Array.prototype.forEach.call(region.querySelectorAll("button.use-suggestion"),
        function (button) { button.hidden = false; });
    }
    function ask() {
      var typed = text.value.slice(0, 2000);
      if (category.value || typed.trim().length < 12) {
        if (region.innerHTML.trim()) {
          region.innerHTML = "";
        }
        asked = "";
        return;
      }
      var query = new URLSearchParams({ text: typed }).toString();
      if (query === asked) {
        return;
      }
      asked = query;
      fragment(region, query, function (html) {
        // the newest answer only; the same words are not announced twice
        if (query === asked && html.trim() !== region.innerHTML.trim()) {
          region.innerHTML = html;
          reveal();
          document.dispatchEvent(new CustomEvent("meld:suggested"));
        }
      });
    }
    region.addEventListener("click", function (event) {
      var button = event.target.closest("button.use-suggestion");
      if (!button) {
        return;
      }
      category.value = button.getAttribute("data-category");
      category.dispatchEvent(new Event("change"));
      if (sub) {
        sub.value = button.getAttribute("data-subcategory") || "";
      }
      var details = byId("more-details");
      if (details) {
        details.open = true;
      }
      region.innerHTML = "";
      var said = document.createElement("p");
      said.textContent = button.getAttribute("data-chosen") || region.getAttribute("data-chosen");
      said.textContent = said.textContent.replace("{label}", button.getAttribute("data-label"));
      region.appendChild(said);
      category.focus();
    });
    text.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, 500);
    });
    category.addEventListener("change", function () {
      if (category.value) {
        asked = "";
      }
    });
    reveal();
  }

  function start() {
    categorySuggestion();
    suggestions();
    subcategories();
    severityQuestion();
    errorSummary();
    copyButton();
  }

  window.addEventListener("pageshow", function () {
    refreshers.forEach(function (refresh) {
      refresh();
    });
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

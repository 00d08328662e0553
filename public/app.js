// MC AI web client: ask, browse (infinite scroll over keyset pages), create (jobs with live progress).
// No framework: a few hundred lines of DOM code keep the first load small.
(function () {
  "use strict";
  var $ = function (id) {
    return document.getElementById(id);
  };
  var errorBox = $("error");

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }
  function clearError() {
    errorBox.hidden = true;
  }

  /** fetch + JSON, turning the API's error shape into a readable message. */
  function api(path, options) {
    return fetch(path, options).then(
      function (r) {
        return r.text().then(function (text) {
          var body;
          try {
            body = text ? JSON.parse(text) : null;
          } catch {
            body = null;
          }
          if (!r.ok) {
            var msg = body && body.error ? body.error.message : "the server answered " + r.status;
            throw new Error(msg);
          }
          return body;
        });
      },
      function () {
        throw new Error("cannot reach the server: check your connection");
      },
    );
  }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  // Tabs
  var tabs = document.querySelectorAll("[role=tab]");
  Array.prototype.forEach.call(tabs, function (t) {
    t.addEventListener("click", function () {
      Array.prototype.forEach.call(tabs, function (o) {
        o.setAttribute("aria-selected", String(o === t));
      });
      Array.prototype.forEach.call(document.querySelectorAll("[data-panel]"), function (p) {
        p.hidden = p.id !== t.dataset.tab;
      });
      clearError();
      if (t.dataset.tab === "browse" && !$("domain").options.length) loadDomains();
    });
  });

  // Feedback: a thumbs up or down on the answer shown, sent with its answer_id.
  var shown = null;
  function resetVote(answer, query) {
    shown = answer.answer_id ? { query: query, answer_id: answer.answer_id } : null;
    $("vote").hidden = !shown;
    $("vote-up").disabled = $("vote-down").disabled = false;
    $("vote-status").textContent = "";
  }
  function vote(helpful) {
    if (!shown) return;
    $("vote-up").disabled = $("vote-down").disabled = true;
    api("/api/knowledge/feedback", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: shown.query, answer_id: shown.answer_id, helpful: helpful }),
    })
      .then(function () {
        $("vote-status").textContent = helpful ? "Thanks: marked helpful" : "Thanks: marked not helpful";
      })
      .catch(function (e) {
        $("vote-up").disabled = $("vote-down").disabled = false;
        showError(e.message);
      });
  }
  $("vote-up").addEventListener("click", function () {
    vote(true);
  });
  $("vote-down").addEventListener("click", function () {
    vote(false);
  });

  // Ask
  $("ask-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    clearError();
    var q = $("q").value.trim();
    if (!q) return;
    var button = ev.target.querySelector("button");
    button.disabled = true;
    api("/api/knowledge/query", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: q }),
    })
      .then(function (a) {
        var declined = a.source === "none";
        $("answer").classList.toggle("declined", declined);
        $("answer-text").textContent = a.answer;
        $("emotion").textContent = "emotion: " + a.emotion.name;
        $("freqs").textContent =
          a.frequencies.neuroscience_hz + " Hz brainwave · " + a.frequencies.metaphysical_hz + " Hz Solfeggio";
        $("answer-source").textContent = declined
          ? "no answer: nothing in the datasets matches well"
          : a.cached
            ? "from cache"
            : "from " + a.source;
        $("answer").querySelector("h2").textContent = declined ? "Questions the datasets do answer" : "Sources";
        var list = $("sources");
        list.textContent = "";
        // A decline lists the nearest questions, each one click away; an answer lists its sources.
        if (declined) {
          (a.suggestions || []).forEach(function (question) {
            var link = el("a", question);
            link.href = "#";
            link.addEventListener("click", function (e) {
              e.preventDefault();
              $("q").value = question;
              $("ask-form").requestSubmit();
            });
            var li = el("li");
            li.appendChild(link);
            list.appendChild(li);
          });
        } else {
          a.matches.forEach(function (m) {
            var li = el("li", m.content);
            if (m.response) li.appendChild(el("div", m.response, "meta"));
            li.appendChild(el("small", m.domain));
            list.appendChild(li);
          });
        }
        resetVote(a, q);
        $("answer").hidden = false;
        document.body.dataset.answered = String(Number(document.body.dataset.answered || 0) + 1);
      })
      .catch(function (e) {
        showError(e.message);
      })
      .then(function () {
        button.disabled = false;
      });
  });

  // Browse: keyset pages, the next one fetched when the end of the list comes into view.
  var cursor = null;
  var loading = false;
  var done = false;
  // Bumped by each domain change: a page still in flight for the domain before is dropped.
  var browsing = 0;
  function loadDomains() {
    api("/api/datasets")
      .then(function (r) {
        var sel = $("domain");
        r.datasets.forEach(function (d) {
          var o = el("option", d.domain + " (" + d.example_count + ")");
          o.value = d.domain;
          sel.appendChild(o);
        });
        resetBrowse();
      })
      .catch(function (e) {
        showError(e.message);
      });
  }
  function resetBrowse() {
    browsing++;
    loading = false;
    cursor = null;
    done = false;
    $("examples").textContent = "";
    document.body.dataset.pages = "0";
    loadPage();
  }
  function loadPage() {
    var domain = $("domain").value;
    if (loading || done || !domain) return;
    loading = true;
    var mine = browsing;
    api(
      "/api/datasets/" +
        encodeURIComponent(domain) +
        "/examples?limit=50" +
        (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""),
    )
      .then(function (page) {
        if (mine !== browsing) return;
        var list = $("examples");
        page.examples.forEach(function (x) {
          var li = el("li", x.content);
          li.dataset.id = x.id;
          if (x.response) li.appendChild(el("div", x.response, "meta"));
          list.appendChild(li);
        });
        cursor = page.next_cursor;
        done = !cursor;
        $("more").textContent = done ? "That is all." : "Scroll for more";
        document.body.dataset.pages = String(Number(document.body.dataset.pages || 0) + 1);
      })
      .catch(function (e) {
        if (mine === browsing) showError(e.message);
      })
      .then(function () {
        if (mine === browsing) loading = false;
      });
  }
  $("domain").addEventListener("change", resetBrowse);
  new IntersectionObserver(function (entries) {
    if (entries[0].isIntersecting && !$("browse").hidden) loadPage();
  }).observe($("more"));

  // Create: submit a job, follow its event stream, show the result.
  function syncKind() {
    var kind = $("kind").value;
    Array.prototype.forEach.call(document.querySelectorAll("[data-for]"), function (e) {
      e.hidden = e.dataset.for.split(" ").indexOf(kind) < 0;
    });
  }
  $("kind").addEventListener("change", syncKind);
  syncKind();
  $("job-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    clearError();
    var kind = $("kind").value;
    var body;
    if (kind === "art")
      body = { prompt: $("prompt").value, style: $("style").value, options: { width: 512, height: 512 } };
    else if (kind === "music") body = { prompt: $("prompt").value, duration: Number($("duration").value) };
    else
      body = {
        frequencies: $("freqs-in")
          .value.split(",")
          .map(function (s) {
            return Number(s.trim());
          }),
        options: { size: 512 },
      };
    var path = kind === "cymatic" ? "/api/cymatic/analyze-async" : "/api/" + kind + "/generate-async";
    $("job-result").textContent = "";
    $("job-progress").value = 0;
    // Jobs belong to the owner token the first submit returned: later submits send it back, so
    // every job of this browser has one owner (the event stream gets it as the mcai_owner cookie).
    var headers = { "content-type": "application/json" };
    var token = ownerToken();
    if (token) headers["x-owner-token"] = token;
    api(path, { method: "POST", headers: headers, body: JSON.stringify(body) })
      .then(function (sub) {
        if (sub.owner_token) saveOwnerToken(sub.owner_token);
        follow(sub);
      })
      .catch(function (e) {
        showError(e.message);
      });
  });
  function ownerToken() {
    try {
      return window.localStorage.getItem("mcai.ownerToken");
    } catch {
      return null;
    }
  }
  function saveOwnerToken(token) {
    try {
      window.localStorage.setItem("mcai.ownerToken", token);
    } catch {
      // storage off (private mode): the cookie still carries the token for this session
    }
  }
  function follow(sub) {
    $("job").hidden = false;
    $("job-status").textContent = sub.status;
    var es = new EventSource(sub.events_url);
    var finish = function (job) {
      es.close();
      $("job-progress").value = job.progress;
      $("job-status").textContent = job.status + (job.error ? ": " + job.error : "");
      if (job.status !== "completed") return showError("the job " + job.status + (job.error ? ": " + job.error : ""));
      var url = job.result.artifact_url;
      var out = $("job-result");
      if (job.result.content_type === "audio/wav") {
        var audio = el("audio");
        audio.controls = true;
        audio.src = url;
        out.appendChild(audio);
      } else {
        var img = el("img");
        img.alt = job.kind + " result";
        img.src = url;
        out.appendChild(img);
      }
      document.body.dataset.jobDone = job.job_id;
    };
    es.addEventListener("progress", function (e) {
      var job = JSON.parse(e.data);
      $("job-progress").value = job.progress;
      $("job-status").textContent = job.status + " " + Math.round(job.progress * 100) + "%";
    });
    ["completed", "failed", "cancelled"].forEach(function (name) {
      es.addEventListener(name, function (e) {
        finish(JSON.parse(e.data));
      });
    });
  }
})();

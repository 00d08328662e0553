// mcai dashboard: polls /api/metrics/summary every 2 s and draws the last 5 minutes with uPlot.
/* global uPlot -- set by /dashboard/uplot.js, loaded before this script in dashboard.html */
(function () {
  "use strict";
  var POLL_MS = 2000;
  var KEEP = 150;
  var COLORS = ["#6ea8fe", "#ffb86b", "#7ee787", "#ff7b7b", "#d2a8ff", "#56d4dd", "#f0e68c", "#ff9ecf"];
  var times = [];
  var series = {}; // chart id -> { name -> [values] }
  var charts = {};
  var previous = null;
  window.__mcai = { charts: charts, series: series, times: times };

  function push(chart, name, value) {
    var s = (series[chart] = series[chart] || {});
    if (!s[name])
      s[name] = times.slice(0, -1).map(function () {
        return null;
      });
    s[name].push(value);
  }

  function pad(chart) {
    var s = series[chart] || {};
    Object.keys(s).forEach(function (k) {
      while (s[k].length < times.length) s[k].push(null);
      while (s[k].length > times.length) s[k].shift();
    });
  }

  function draw(chart) {
    var el = document.getElementById(chart);
    var s = series[chart] || {};
    var names = Object.keys(s).sort();
    var data = [times.slice()].concat(
      names.map(function (n) {
        return s[n].slice();
      }),
    );
    el.dataset.series = String(names.length);
    el.dataset.points = String(
      names.reduce(function (acc, n) {
        return (
          acc +
          s[n].filter(function (v) {
            return v !== null;
          }).length
        );
      }, 0),
    );
    var key = names.join("|");
    if (charts[chart] && charts[chart].key === key) {
      charts[chart].plot.setData(data);
      return;
    }
    if (charts[chart]) charts[chart].plot.destroy();
    var opts = {
      width: Math.max(300, el.clientWidth || 440),
      height: 200,
      axes: [
        { stroke: "#9aa3b8", grid: { stroke: "#242a3d" } },
        { stroke: "#9aa3b8", grid: { stroke: "#242a3d" } },
      ],
      series: [{}].concat(
        names.map(function (n, i) {
          return { label: n, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true };
        }),
      ),
    };
    charts[chart] = { key: key, plot: new uPlot(opts, data, el) };
  }

  function render(sum) {
    var t = sum.at / 1000;
    times.push(t);
    var dt = previous ? (sum.at - previous.at) / 1000 : null;
    var before = {};
    if (previous)
      previous.routes.forEach(function (r) {
        before[r.method + " " + r.route] = r.count;
      });
    sum.routes.slice(0, 6).forEach(function (r) {
      var k = r.method + " " + r.route;
      push("rps", k, dt && before[k] !== undefined ? Math.max(0, (r.count - before[k]) / dt) : null);
      push("p95", k, r.p95_ms);
    });
    Object.keys(sum.cache).forEach(function (tier) {
      var c = sum.cache[tier];
      push("cache", tier, c.hits + c.misses ? c.hits / (c.hits + c.misses) : null);
    });
    sum.jobs.forEach(function (j) {
      push("jobs", j.kind + " queued", j.queued);
      push("jobs", j.kind + " running", j.processing);
    });
    sum.nodes.forEach(function (n) {
      push("memory", n.node_id, Math.round(n.rss_bytes / 1048576));
      if (n.pool_utilization !== null) push("pool", n.node_id, n.pool_utilization);
    });
    if (sum.feedback) {
      push("feedback", "helpful", sum.feedback.helpful);
      push("feedback", "not helpful", sum.feedback.unhelpful);
    }
    if (times.length > KEEP) times.shift();
    ["rps", "p95", "cache", "jobs", "memory", "pool", "feedback"].forEach(function (c) {
      pad(c);
      draw(c);
    });
    var table =
      "<tr><th>kind</th><th>queued</th><th>running</th><th>completed</th><th>failed</th><th>cancelled</th></tr>";
    sum.jobs.forEach(function (j) {
      table +=
        "<tr><td>" +
        j.kind +
        "</td><td>" +
        j.queued +
        "</td><td>" +
        j.processing +
        "</td><td>" +
        j.completed +
        "</td><td>" +
        j.failed +
        "</td><td>" +
        j.cancelled +
        "</td></tr>";
    });
    document.getElementById("jobtable").innerHTML = table;
    previous = sum;
    document.body.dataset.samples = String(times.length);
  }

  function poll() {
    fetch("/api/metrics/summary", { cache: "no-store" })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error((body.error && body.error.message) || "HTTP " + r.status);
          return body;
        });
      })
      .then(function (sum) {
        render(sum);
        var st = document.getElementById("status");
        st.className = "";
        st.textContent = sum.nodes.length + " node(s), updated " + new Date(sum.at).toLocaleTimeString();
      })
      .catch(function (err) {
        var st = document.getElementById("status");
        st.className = "error";
        st.textContent = "cannot read metrics: " + err.message;
      })
      .then(function () {
        setTimeout(poll, POLL_MS);
      });
  }
  poll();
})();

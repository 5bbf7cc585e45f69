// cotgen review page: table, filters, detail view and marks. Plain JavaScript, no network: the data come
// from data/table.js (loaded by the page) and data/detail/NNNNN.js (loaded when a row is opened).
// Every number with a rule behind it (divergences, cue agreement) was computed in Python; this file
// displays, sorts, filters and stores marks.
(function () {
  "use strict";
  var PAGE_SIZE = 100;
  var VERDICTS = ["accept", "reject", "flag"];
  var state = {
    table: null, U: null, I: null, fp: {}, n: 0, shown: [], page: 0, sortKey: null, sortDir: 1,
    details: {}, pending: {}, haystack: null, open: null, marks: {}, storageKey: null,
  };
  var metrics = { firstRenderMs: null, lastFilterMs: null, shown: 0 };
  window.cotgenReview = metrics;

  function $(id) { return document.getElementById(id); }

  function esc(value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function fmt(value, digits) {
    return value === null || value === undefined ? "—" : Number(value).toFixed(digits);
  }

  // ---- marks (localStorage, one entry per run) -------------------------------------------------------

  function markKey(id, sample) { return JSON.stringify([id, sample]); }

  // A mark as the page keeps it, or null: what is read back (from storage or a file) is checked field by field,
  // so a mark planted in the browser's storage is data, never markup.
  function validMark(m) {
    if (!m || typeof m.id !== "string" || typeof m.sample !== "number" || VERDICTS.indexOf(m.verdict) < 0 ||
        typeof m.reviewed_at !== "string") { return null; }
    return {
      id: m.id, sample: m.sample, verdict: m.verdict, note: typeof m.note === "string" ? m.note : "",
      reviewed_at: m.reviewed_at, fingerprint: typeof m.fingerprint === "string" ? m.fingerprint : null
    };
  }

  function loadMarks() {
    var stored, dropped = 0;
    state.marks = {};
    try {
      stored = JSON.parse(localStorage.getItem(state.storageKey) || "{}") || {};
    } catch (err) {
      $("load-status").textContent = "stored marks were unreadable and are ignored: " + err.message;
      return;
    }
    Object.keys(stored).forEach(function (key) {
      var m = validMark(stored[key]);
      if (m && key === markKey(m.id, m.sample)) { state.marks[key] = m; } else { dropped += 1; }
    });
    if (dropped) { $("load-status").textContent = dropped + " stored marks were malformed and are ignored"; }
  }

  function saveMarks() {
    $("mark-count").textContent = Object.keys(state.marks).length + " marked";
    try {
      localStorage.setItem(state.storageKey, JSON.stringify(state.marks));
    } catch (err) {  // the browser's storage is full (about 5 MB, some 30,000 marks): the marks live on in the page
      $("load-status").textContent = "The browser could not store the marks (" + err.name + "): download " +
        state.table.review_file + " now, before closing the page.";
    }
  }

  function markOf(i) {
    if (state.I.reason[i] !== null) { return null; }
    return state.marks[markKey(state.U.id[state.I.u[i]], state.I.sample[i])] || null;
  }

  function setMark(id, sample, verdict, note) {
    var key = markKey(id, sample);
    if (verdict === null) {
      delete state.marks[key];
    } else {
      state.marks[key] = {
        id: id, sample: sample, verdict: verdict, note: note, reviewed_at: new Date().toISOString(),
        fingerprint: state.fp[key] || null
      };
    }
    saveMarks();
  }

  function reviewLines() {
    var marks = Object.keys(state.marks).map(function (k) { return state.marks[k]; });
    marks.sort(function (a, b) { return a.id < b.id ? -1 : a.id > b.id ? 1 : a.sample - b.sample; });
    return marks.map(function (m) {
      return JSON.stringify({
        id: m.id, sample: m.sample, verdict: m.verdict, note: m.note, reviewed_at: m.reviewed_at,
        fingerprint: m.fingerprint || null
      });
    }).join("\n") + (marks.length ? "\n" : "");
  }

  function download() {
    var blob = new Blob([reviewLines()], { type: "application/x-ndjson" });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = state.table.review_file;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
  }

  function loadFile(file) {
    var reader = new FileReader();
    reader.onload = function () {
      var merged = 0, problems = [];
      String(reader.result).split(/\r?\n/).forEach(function (line, index) {
        if (!line.trim()) { return; }
        var m;
        try { m = JSON.parse(line); } catch (err) { problems.push("line " + (index + 1) + ": not JSON"); return; }
        m = validMark(m);
        if (m === null) {
          problems.push("line " + (index + 1) + ": expected id, sample, verdict (accept|reject|flag), reviewed_at");
          return;
        }
        var key = markKey(m.id, m.sample), old = state.marks[key];
        if (!old || old.reviewed_at <= m.reviewed_at) {
          state.marks[key] = m;
          merged += 1;
        }
      });
      saveMarks();
      $("load-status").textContent = file.name + ": " + merged + " marks loaded" +
        (problems.length ? "; skipped " + problems.length + " (" + problems[0] + ")" : "");
      applyFilters();
    };
    reader.readAsText(file);
  }

  // ---- table ----------------------------------------------------------------------------------------

  var getters = {
    id: function (i) { return state.U.id[state.I.u[i]]; },
    source: function (i) { return state.I.sample[i]; },
    speaker: function (i) { return state.U.speaker[state.I.u[i]]; },
    majority: function (i) { return state.U.majority[state.I.u[i]]; },
    entropy: function (i) { return state.U.entropy[state.I.u[i]]; },
    js: function (i) { return state.I.js[i]; },
    kl: function (i) { return state.I.kl[i]; },
    faith: function (i) { return state.I.faith[i]; },
    amb: function (i) { return state.I.amb[i]; },
    reason: function (i) { return state.I.reason[i]; },
    verdict: function (i) { var m = markOf(i); return m ? m.verdict : null; },
  };

  function sourceName(sample) { return sample === 0 ? "gold" : "sample:" + sample; }

  function number(id) {
    var text = $(id).value.trim();
    return text === "" ? NaN : Number(text);
  }

  function haystack() {
    if (state.haystack === null) {
      var U = state.U;
      state.haystack = U.id.map(function (id, u) {
        return (id + "\u0000" + (U.speaker[u] || "") + "\u0000" + U.text[u]).toLowerCase();
      });
    }
    return state.haystack;
  }

  function applyFilters() {
    var started = performance.now();
    var I = state.I;
    var text = $("f-text").value.trim().toLowerCase();
    var source = $("f-source").value, reason = $("f-reason").value, amb = $("f-amb").value;
    var verdict = $("f-verdict").value, jsMin = number("f-js"), faithMax = number("f-faith");
    var hay = text ? haystack() : null;
    var out = [];
    for (var i = 0; i < state.n; i++) {
      var sample = I.sample[i], why = I.reason[i];
      if (source === "gold" && sample !== 0) { continue; }
      if (source === "sample" && sample === 0) { continue; }
      if (reason === "-" && why !== null) { continue; }
      if (reason === "*" && why === null) { continue; }
      if (reason && reason !== "-" && reason !== "*" && why !== reason) { continue; }
      if (!isNaN(jsMin) && !(I.js[i] !== null && I.js[i] >= jsMin)) { continue; }
      if (!isNaN(faithMax) && !(I.faith[i] !== null && I.faith[i] <= faithMax)) { continue; }
      if (amb && I.amb[i] !== amb) { continue; }
      if (verdict) {
        var mark = markOf(i);
        if (verdict === "-" ? mark !== null || why !== null : mark === null || mark.verdict !== verdict) { continue; }
      }
      if (hay && hay[I.u[i]].indexOf(text) < 0) { continue; }
      out.push(i);
    }
    sortRows(out);
    state.shown = out;
    state.page = 0;
    renderRows();
    metrics.lastFilterMs = performance.now() - started;
  }

  function sortRows(rows) {
    if (state.sortKey === null) { return; }
    var get = getters[state.sortKey], dir = state.sortDir;
    var keyed = rows.map(function (i) { return [get(i), i]; });
    keyed.sort(function (a, b) {
      if (a[0] === b[0]) { return a[1] - b[1]; }
      if (a[0] === null) { return 1; }  // blanks last in both directions
      if (b[0] === null) { return -1; }
      return (a[0] < b[0] ? -1 : 1) * dir;
    });
    for (var k = 0; k < rows.length; k++) { rows[k] = keyed[k][1]; }
  }

  function renderRows() {
    var I = state.I, U = state.U, rows = state.shown;
    var pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    state.page = Math.min(Math.max(state.page, 0), pages - 1);
    var start = state.page * PAGE_SIZE, end = Math.min(rows.length, start + PAGE_SIZE);
    var html = [];
    for (var k = start; k < end; k++) {
      var i = rows[k], u = I.u[i], mark = markOf(i), why = I.reason[i];
      html.push(
        '<tr data-i="' + i + '"' + (why !== null ? ' class="reject"' : "") + (state.open === i ? ' aria-selected="true"' : "") + ">" +
        "<td>" + esc(U.id[u]) + "</td><td>" + sourceName(I.sample[i]) + "</td><td>" + esc(U.speaker[u] || "—") +
        "</td><td>" + esc(U.majority[u] || "tie") + '</td><td class="num">' + fmt(U.entropy[u], 2) +
        '</td><td class="num">' + fmt(I.js[i], 3) + '</td><td class="num">' + fmt(I.kl[i], 3) +
        '</td><td class="num">' + fmt(I.faith[i], 2) + "</td><td>" + esc(I.amb[i] || "—") +
        "</td><td>" + esc(why || "") + "</td><td" + (mark ? ' class="v-' + esc(mark.verdict) + '"' : "") + ">" +
        (why !== null ? "" : mark ? esc(mark.verdict) + (mark.note ? " ✎" : "") : "") + "</td></tr>"
      );
    }
    $("rows").innerHTML = html.join("");
    $("shown").textContent = rows.length + " of " + state.n + " rows";
    $("page").textContent = "page " + (state.page + 1) + " of " + pages;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
    metrics.shown = rows.length;
  }

  function sortBy(key) {
    state.sortDir = state.sortKey === key ? -state.sortDir : 1;
    state.sortKey = key;
    var headers = document.querySelectorAll("#table th");
    for (var h = 0; h < headers.length; h++) {
      var th = headers[h];
      th.removeAttribute("aria-sort");
      if (th.dataset.key === key) { th.setAttribute("aria-sort", state.sortDir > 0 ? "ascending" : "descending"); }
    }
    applyFilters();
  }

  // ---- detail ---------------------------------------------------------------------------------------

  function withChunk(chunk, then) {
    if (state.details[chunk]) { then(); return; }
    var waiting = state.pending[chunk];
    if (waiting) { waiting.push(then); return; }
    state.pending[chunk] = [then];
    var script = document.createElement("script");
    script.src = "data/detail/" + String(chunk).padStart(5, "0") + ".js";
    script.onerror = function () {
      delete state.pending[chunk];
      $("detail").hidden = false;
      $("detail").innerHTML = '<p class="warn">Could not load ' + esc(script.src) + ": rerun cotgen review.</p>";
    };
    document.body.appendChild(script);
  }

  window.cotgenDetail = function (chunk, list) {
    state.details[chunk] = list;
    var waiting = state.pending[chunk] || [];
    delete state.pending[chunk];
    waiting.forEach(function (then) { then(); });
  };

  function openRow(i) {
    state.open = i;
    var u = state.I.u[i], chunk = Math.floor(u / state.table.chunk);
    withChunk(chunk, function () {
      renderDetail(state.details[chunk][u % state.table.chunk], state.I.sample[i]);
    });
    renderRows();
  }

  function bars(classes, human, trace) {
    var rows = classes.map(function (code, k) {
      var h = human[k], t = trace ? trace[k] : null;
      return "<tr><th>" + esc(code) + '</th><td class="bar"><span class="human" style="width:' + (h * 80).toFixed(1) +
        '%"></span><em>' + fmt(h, 2) + '</em></td><td class="bar">' +
        (t === null ? "—" : '<span class="trace" style="width:' + (t * 80).toFixed(1) + '%"></span><em>' + fmt(t, 2) + "</em>") +
        "</td></tr>";
    });
    return '<table class="dist"><thead><tr><th>class</th><th>human</th><th>trace</th></tr></thead><tbody>' +
      rows.join("") + "</tbody></table>";
  }

  // The verdicts (exact, agrees = within one step, salient = an extreme measurement cited on its side) were
  // computed in Python by the functions faithfulness is made of; this only words them.
  function check(c) {
    if (c.event) { return ["heard", "heard, not measured"]; }
    if (c.claimed === null) { return ["missed", "not cited, measured " + c.measured]; }
    if (c.agrees === null) { return ["na", "not measured"]; }
    if (!c.agrees) { return ["mismatch", "mismatch"]; }
    var word = c.exact ? "exact" : "within one";
    return ["ok", c.salient === true ? word + ", salient" : word];
  }

  function stages(t) {
    var cues = t.cues.map(function (c) {
      var verdict = check(c);
      var flagged = verdict[0] === "mismatch" || verdict[0] === "missed";
      var measurement = c.value === null ? "—" : esc(c.value) + (c.z === null ? "" : " (z " + fmt(c.z, 2) + ")");
      var note = c.observation === null ? "" : '<tr class="obs"><td colspan="5">' + esc(c.observation) + " <i>suggests " +
        esc(c.suggests.join(", ") || "none") + "; measured against the " + esc(c.reference || "—") + " reference</i></td></tr>";
      return '<tbody class="' + (flagged ? verdict[0] : "") + '" data-cue="' + esc(c.cue) + '"><tr><td>' + esc(c.cue) +
        "</td><td>" + esc(c.claimed || "—") + "</td><td>" + esc(c.measured || "—") + '</td><td class="' + verdict[0] + '">' +
        esc(verdict[1]) + '</td><td class="num">' + measurement + "</td></tr>" + note + "</tbody>";
    }).join("");
    var parts = t.parts ? " (exact " + fmt(t.parts.exact, 2) + " · within one " + fmt(t.parts.within_one, 2) +
      " · salient recall " + fmt(t.parts.salient_recall, 2) + ")" : "";
    var lexical = t.lexical.map(function (c) {
      return "<li><b>" + esc(c.cue) + "</b> → " + esc(c.observation) + " <i>suggests " + esc(c.suggests.join(", ") || "none") + "</i></li>";
    }).join("");
    var changed = t.parts && t.faith !== t.faith_now ?
      '<p class="warn">Stored faithfulness ' + fmt(t.faith, 2) + " but " + fmt(t.faith_now, 2) +
      " against today's features.parquet: the features changed since the build.</p>" : "";
    return '<h3>1. Acoustic <small>faithfulness ' + fmt(t.faith, 2) + parts + "</small></h3>" + changed +
      '<table class="cues"><thead><tr><th>cue</th><th>claimed</th><th>measured</th><th>check</th>' +
      '<th class="num">value</th></tr></thead>' + cues + "</table>" +
      "<p>" + esc(t.acoustic_summary) + "</p>" +
      "<h3>2. Lexical</h3><ul>" + (lexical || "<li>no lexical cue</li>") + "</ul><p>" + esc(t.lexical_summary) + "</p>" +
      "<h3>3. Ambiguity <small>" + esc(t.ambiguity.level) + "; competing " + esc(t.ambiguity.competing.join(", ") || "none") +
      "; coherence of the cues with the distribution " + fmt(t.coherence, 2) + "</small></h3><p>" + esc(t.ambiguity.explanation) + "</p>" +
      "<h3>4. Distribution <small>JS " + fmt(t.js, 3) + " bits · KL " + fmt(t.kl, 3) + " nats</small></h3>" +
      (t.reward ? '<p class="reward">GRPO reasoning reward ' + fmt(t.reward.combined, 2) + " (ambiguity " +
        fmt(t.reward.ambiguity, 2) + " · cue faithfulness " + fmt(t.reward.faithfulness, 2) + " · coherence " +
        fmt(t.reward.coherence, 2) + ")</p>" : "");
  }

  function markPanel(d, t) {
    var mark = state.marks[markKey(d.id, t.sample)] || null;
    var buttons = VERDICTS.map(function (v) {
      return '<button type="button" class="verdict v-' + v + '" data-verdict="' + v + '" aria-pressed="' +
        (mark && mark.verdict === v ? "true" : "false") + '">' + v + "</button>";
    }).join("");
    return '<div class="mark" data-id="' + esc(d.id) + '" data-sample="' + t.sample + '"><b>Mark ' + sourceName(t.sample) +
      "</b> " + buttons + ' <button type="button" data-verdict="">clear</button>' +
      '<textarea id="note" rows="2" placeholder="note (saved with the verdict)">' + esc(mark ? mark.note : "") + "</textarea>" +
      (mark ? '<small>marked ' + esc(mark.reviewed_at) + "</small>" : "") + "</div>";
  }

  function samplesTable(d, current) {
    var rows = d.traces.map(function (t) {
      var mark = state.marks[markKey(d.id, t.sample)];
      return '<tr data-sample="' + t.sample + '"' + (t.sample === current ? ' aria-selected="true"' : "") + "><td>" +
        sourceName(t.sample) + "</td><td>" + esc(t.mode) + '</td><td class="num">' + fmt(t.js, 3) + '</td><td class="num">' +
        fmt(t.kl, 3) + '</td><td class="num">' + fmt(t.faith, 2) + "</td><td>" + esc(t.ambiguity.level) + "</td><td>" +
        esc(state.table.classes.map(function (c, k) { return c + " " + fmt(t.dist[k], 2); }).join(" · ")) + "</td><td>" +
        (mark ? esc(mark.verdict) : "") + "</td></tr>";
    }).join("");
    return '<h3>Traces of this utterance</h3><table class="samples"><thead><tr><th>source</th><th>mode</th><th>JS</th><th>KL</th>' +
      "<th>faithfulness</th><th>ambiguity</th><th>distribution</th><th>verdict</th></tr></thead><tbody>" + rows + "</tbody></table>";
  }

  function pairsSection(d) {
    if (!d.pairs.length) { return "<h3>DPO pair</h3><p>No pair for this utterance.</p>"; }
    return d.pairs.map(function (p) {
      return "<h3>DPO pair <small>" + esc(p.metric) + ": chosen " + fmt(p.score_chosen, 3) + " vs rejected " +
        fmt(p.score_rejected, 3) + '</small></h3><div class="pair"><div><h4>chosen: ' + esc(p.source_chosen) +
        "</h4><pre>" + esc(p.chosen) + "</pre></div><div><h4>rejected: " + esc(p.source_rejected) + "</h4><pre>" +
        esc(p.rejected) + "</pre></div></div>";
    }).join("");
  }

  // A leaking or self-contradicting answer, with what the build objected to marked in its text.
  function marked(r) {
    if (!r.text) { return ""; }
    var html = esc(r.text);
    (r.marks || []).forEach(function (m) {
      var needle = esc(m);
      if (needle) { html = html.split(needle).join('<mark class="' + esc(r.reason) + '">' + needle + "</mark>"); }
    });
    return "<pre>" + html + "</pre>";
  }

  function renderDetail(d, sample) {
    var t = null;
    for (var k = 0; k < d.traces.length; k++) { if (d.traces[k].sample === sample) { t = d.traces[k]; } }
    var rejects = d.rejects.map(function (r) {
      return "<li><b>" + sourceName(r.sample) + "</b> rejected at " + esc(r.stage) + ": " + esc(r.reason) +
        (r.detail ? " — " + esc(r.detail) : "") + " (" + r.attempts + " attempts)" + marked(r) + "</li>";
    }).join("");
    var audio = d.audio ? '<audio id="audio" controls preload="metadata" src="' + esc(d.audio) + '"></audio>' :
      '<p class="warn">Audio not found: ' + esc(d.audio_path) + "</p>";
    var html = '<button type="button" id="close" class="close">close ✕</button>' +
      "<h2>" + esc(d.id) + " <small>" + (t ? sourceName(t.sample) : sourceName(sample) + " (rejected)") + "</small></h2>" +
      "<p>speaker " + esc(d.speaker || "unknown") + " · gender " + esc(d.gender || "unknown") + " · session " +
      esc(d.session || "—") + " · " + d.annotators + " annotators · majority " + esc(d.majority || "tie") + "</p>" +
      '<blockquote>' + esc(d.transcript || "(no transcript)") + "</blockquote>" + audio +
      (d.measured ? "" : '<p class="warn">The run has no features.parquet: cue levels cannot be checked.</p>') +
      (t ? markPanel(d, t) : "") +
      bars(state.table.classes, d.human, t ? t.dist : null) +
      (t ? stages(t) : '<p class="warn">No trace for ' + sourceName(sample) + ".</p>") +
      (rejects ? "<h3>Rejects</h3><ul>" + rejects + "</ul>" : "") +
      samplesTable(d, t ? t.sample : null) + pairsSection(d);
    var panel = $("detail");
    panel.innerHTML = html;
    panel.hidden = false;
    panel.dataset.id = d.id;
    panel.scrollTop = 0;
  }

  function onDetailClick(event) {
    var target = event.target;
    if (target.id === "close") {
      $("detail").hidden = true;
      state.open = null;
      renderRows();
      return;
    }
    if (target.dataset && target.dataset.verdict !== undefined) {
      var box = target.closest(".mark");
      var id = box.dataset.id, sample = Number(box.dataset.sample);
      setMark(id, sample, target.dataset.verdict || null, $("note").value);
      rerenderOpen(sample);
      return;
    }
    var row = target.closest(".samples tbody tr");
    if (row) { rerenderOpen(Number(row.dataset.sample)); }
  }

  function rerenderOpen(sample) {
    var id = $("detail").dataset.id;
    for (var i = 0; i < state.n; i++) {
      if (state.I.sample[i] === sample && state.U.id[state.I.u[i]] === id && state.I.reason[i] === null) {
        openRow(i);
        return;
      }
    }
  }

  function onNoteInput(event) {
    if (event.target.id !== "note") { return; }
    var box = event.target.closest(".mark");
    var key = markKey(box.dataset.id, Number(box.dataset.sample));
    if (state.marks[key]) {
      state.marks[key].note = event.target.value;
      state.marks[key].reviewed_at = new Date().toISOString();
      saveMarks();
    }
  }

  // ---- start ----------------------------------------------------------------------------------------

  function debounce(f, ms) {
    var timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(f, ms); };
  }

  window.cotgenTable = function (table) {
    state.table = table;
    state.U = table.utterances;
    state.I = table.items;
    state.n = table.items.u.length;
    // (id, sample) -> the trace's input fingerprint, which each mark carries so export can tell a redone trace.
    state.fp = {};
    for (var i = 0; i < state.n; i++) {
      if (table.items.fp[i]) { state.fp[markKey(state.U.id[table.items.u[i]], table.items.sample[i])] = table.items.fp[i]; }
    }
    state.storageKey = "cotgen-review:" + table.run_key;
    loadMarks();
    saveMarks();
    state.shown = Array.from({ length: state.n }, function (_, i) { return i; });
    renderRows();
    metrics.firstRenderMs = performance.now();
    $("f-text").addEventListener("input", debounce(applyFilters, 150));
    ["f-source", "f-reason", "f-amb", "f-verdict", "f-js", "f-faith"].forEach(function (id) {
      $(id).addEventListener("change", applyFilters);
    });
    document.querySelector("#table thead").addEventListener("click", function (event) {
      var th = event.target.closest("th");
      if (th) { sortBy(th.dataset.key); }
    });
    $("rows").addEventListener("click", function (event) {
      var tr = event.target.closest("tr");
      if (tr) { openRow(Number(tr.dataset.i)); }
    });
    $("prev").addEventListener("click", function () { state.page -= 1; renderRows(); });
    $("next").addEventListener("click", function () { state.page += 1; renderRows(); });
    $("download").addEventListener("click", download);
    $("load").addEventListener("change", function (event) { if (event.target.files[0]) { loadFile(event.target.files[0]); } });
    $("detail").addEventListener("click", onDetailClick);
    $("detail").addEventListener("input", onNoteInput);
  };
})();

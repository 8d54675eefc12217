/*
 * Suspected mislabeled training examples (Suspects, SuspectMark):
 * a grid of the top suspects rendered from their stored raw features, with
 * given/predicted labels and scores, sortable; a data map (confidence vs
 * variability); mark buttons that store decisions in the run; CSV export.
 * Everything from records is inserted as text or drawn on canvas.
 */
Stethoscope.registerPanel({
  id: 'suspects',
  render: function (root, api) {
    var TYPE = api.types[0];
    var el = api.el;
    var base = '/stethoscope/api/suspects/' + encodeURIComponent(api.session);
    var records = [], marks = {}, latest = null, mapChart = null, metricChart = null;
    /** Whether an assertion record names its examples by example index (tracked, metadata or content hash). */
    function namesExamples(r) {
      return ['example-index', 'metadata', 'content-hash'].indexOf(r.identity) >= 0;
    }

    var SORTS = [
      { key: 'combined', label: 'combined score (most suspicious first)', dir: -1 },
      { key: 'aum', label: 'AUM (lowest first)', dir: 1 },
      { key: 'confidence', label: 'confidence (lowest first)', dir: 1 },
      { key: 'correctness', label: 'correctness (lowest first)', dir: 1 },
      { key: 'variability', label: 'variability (highest first)', dir: -1 },
      // Toneva et al.: an example never classified correctly counts as forgotten infinitely often
      { key: 'forgetting', label: 'forgetting events (most first; never learned on top)', dir: -1,
        value: function (s) { return s.correctness === 0 ? Infinity : s.forgetting; } },
      { key: 'meanLoss', label: 'mean loss (highest first)', dir: -1 }
    ];

    var controls = el('div', { 'class': 'controls' });
    var sortSel = el('select', { id: 'suspects-sort' });
    SORTS.forEach(function (s) { sortSel.appendChild(el('option', { value: s.key }, s.label)); });
    var sortLabel = el('label', null, 'Sort by ');
    sortLabel.appendChild(sortSel);
    controls.appendChild(sortLabel);
    var exportMarked = el('a', { id: 'suspects-export', href: base + '/export', download: 'suspects-marked.csv' },
      'Export marked (CSV)');
    var exportAll = el('a', { id: 'suspects-export-all', href: base + '/export?all=1', download: 'suspects-all.csv' },
      'Export all examples (CSV)');
    controls.appendChild(exportMarked);
    controls.appendChild(exportAll);
    var markCount = el('span', { id: 'suspects-mark-count', 'class': 'muted' });
    controls.appendChild(markCount);
    root.appendChild(controls);

    var settings = el('div');
    root.appendChild(settings);
    api.staticInfo(TYPE).then(function (infos) { api.settingsLine(settings, infos); }).catch(function () { });

    var summary = el('div', { id: 'suspects-summary', 'class': 'muted' });
    root.appendChild(summary);
    var metricsBox = el('div', { id: 'suspects-metrics' });
    root.appendChild(metricsBox);
    // examples flagged by assertions with the SEND_TO_SUSPECTS action (AssertionFinding records)
    var hitsBox = el('div', { id: 'suspects-assertion-hits' });
    root.appendChild(hitsBox);
    var hits = [];
    var grid = el('div', { id: 'suspects-grid', 'class': 'suspect-grid' });
    root.appendChild(grid);
    var mapCard = el('div', { 'class': 'card' });
    mapCard.appendChild(el('h3', null, 'Data map: confidence vs variability (colour: correctness; red rings: top suspects)'));
    var mapDiv = el('div', { 'class': 'chart', id: 'suspects-map', style: 'height:360px' });
    mapCard.appendChild(mapDiv);
    root.appendChild(el('div', { style: 'height:14px' }));
    root.appendChild(mapCard);

    sortSel.addEventListener('change', drawGrid);

    function fmt(v, d) { return v === null || v === undefined ? 'n/a' : Number(v).toFixed(d); }

    /** Draws one example's features: as an image when the shape allows it, else as bars. */
    function drawFeatures(canvas, s, shape) {
      var ctx = canvas.getContext('2d');
      if (!s.pixels) {
        canvas.width = 84; canvas.height = 84;
        ctx.fillStyle = '#eee'; ctx.fillRect(0, 0, 84, 84);
        ctx.fillStyle = '#888'; ctx.font = '11px sans-serif'; ctx.fillText('not captured', 8, 45);
        return;
      }
      var bin = atob(s.pixels);
      var n = bin.length;
      var c = 1, h = 0, w = 0;
      if (shape.length === 3 && (shape[0] === 1 || shape[0] === 3)) { c = shape[0]; h = shape[1]; w = shape[2]; }
      else if (shape.length === 2) { h = shape[0]; w = shape[1]; }
      else if (shape.length === 1) { var r = Math.round(Math.sqrt(n)); if (r * r === n) { h = r; w = r; } }
      if (h > 0 && w > 0 && c * h * w === n) {
        var img = ctx.createImageData(w, h);
        for (var y = 0; y < h; y++) {
          for (var x = 0; x < w; x++) {
            var p = (y * w + x) * 4;
            for (var k = 0; k < 3; k++) {
              img.data[p + k] = bin.charCodeAt((c === 3 ? k : 0) * h * w + y * w + x);
            }
            img.data[p + 3] = 255;
          }
        }
        var tmp = document.createElement('canvas');
        tmp.width = w; tmp.height = h;
        tmp.getContext('2d').putImageData(img, 0, 0);
        var scale = Math.max(1, Math.floor(84 / Math.max(w, h)));
        canvas.width = w * scale; canvas.height = h * scale;
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(tmp, 0, 0, w * scale, h * scale);
        canvas.setAttribute('data-kind', 'image');
      } else {
        canvas.width = 168; canvas.height = 84;
        ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, 168, 84);
        ctx.fillStyle = '#2f6fb3';
        var bw = 168 / n;
        for (var i = 0; i < n; i++) {
          var v = bin.charCodeAt(i) / 255;
          ctx.fillRect(i * bw, 84 - v * 84, Math.max(1, bw - 0.5), v * 84);
        }
        canvas.setAttribute('data-kind', 'bars');
      }
    }

    function post(s, decision, corrected) {
      var q = '?index=' + encodeURIComponent(s.index) + '&given=' + encodeURIComponent(s.given) +
        '&decision=' + encodeURIComponent(decision) + (corrected >= 0 ? '&corrected=' + corrected : '');
      return api.post(base + '/mark' + q).then(function (r) {
        return r.json().then(function (j) {
          if (!r.ok) { throw new Error(j && j.error ? j.error : ('HTTP ' + r.status)); }
          return j;
        });
      }).then(loadMarks).catch(function (e) { alert('Could not store the mark: ' + e.message); });
    }

    /** Mark buttons and status of an example {index, given, predicted} (appended to card c). */
    function markControls(c, s, numClasses) {
      var m = marks[s.index];
      c.appendChild(el('div', { 'class': 'suspect-mark' },
        m ? (m.decision === 'mislabeled' ? 'marked mislabeled \u2192 ' + m.corrected : 'marked fine') : 'not marked'));
      var row = el('div', { 'class': 'suspect-actions' });
      var sel = el('select', { 'class': 'suspect-label', title: 'corrected label' });
      for (var k = 0; k < numClasses; k++) { sel.appendChild(el('option', { value: String(k) }, String(k))); }
      sel.value = String(m && m.decision === 'mislabeled' ? m.corrected : Math.max(0, s.predicted));
      var bad = el('button', { 'class': 'mark-mislabeled' }, 'Mislabeled');
      bad.addEventListener('click', function () { post(s, 'mislabeled', parseInt(sel.value, 10)); });
      var fine = el('button', { 'class': 'mark-fine' }, 'Fine');
      fine.addEventListener('click', function () { post(s, 'fine', -1); });
      row.appendChild(sel); row.appendChild(bad); row.appendChild(fine);
      if (m) {
        var clear = el('button', { 'class': 'mark-clear' }, 'Clear');
        clear.addEventListener('click', function () { post(s, 'clear', -1); });
        row.appendChild(clear);
      }
      c.appendChild(row);
    }

    /** The review list of assertion hits: the latest firing of each example, newest first. */
    function drawHits() {
      hitsBox.textContent = '';
      if (!hits.length) { return; }
      var byIndex = {}, order = [];
      hits.forEach(function (r) {
        (r.examples || []).forEach(function (e) {
          var key = (namesExamples(r) ? 'example-index' : r.identity) + ':' + e.index;
          if (!byIndex[key]) { order.push(key); }
          byIndex[key] = { e: e, r: r };
        });
      });
      var cardEl = el('div', { 'class': 'card' });
      cardEl.appendChild(el('h3', null, 'Sent by assertions: ' + order.length + ' example' + (order.length === 1 ? '' : 's') +
        ' (action SEND_TO_SUSPECTS; mark them like suspects, the export lists the marks)'));
      var g = el('div', { 'class': 'suspect-grid', id: 'suspects-hit-grid' });
      order.slice().reverse().forEach(function (key) {
        var h = byIndex[key], e = h.e, r = h.r;
        var c = el('div', { 'class': 'suspect assertion-hit' + (marks[e.index] && namesExamples(r) ? ' marked-' + marks[e.index].decision : ''),
          'data-index': e.index, 'data-assertion': r.detector });
        var canvas = el('canvas', { 'class': 'suspect-img' });
        c.appendChild(canvas);
        drawFeatures(canvas, e, r.featureShape || []);
        c.appendChild(el('div', { 'class': 'suspect-title' }, '#' + e.index + (namesExamples(r) ? '' : ' (' + r.identity + ')')));
        c.appendChild(el('div', { 'class': 'hit-assertion' }, r.detector + ' \u00b7 ' + r.severity + ' \u00b7 severity ' + fmt(e.severity, 3)));
        c.appendChild(el('div', { 'class': 'hit-message muted' }, r.message));
        c.appendChild(el('div', { 'class': 'suspect-labels' }, 'given ' + (e.given < 0 ? 'n/a' : e.given) + ' \u2192 predicted ' +
          (e.predicted < 0 ? 'n/a' : e.predicted)));
        if (e.history && e.history.length) {
          c.appendChild(el('div', { 'class': 'hit-history muted' }, 'classes by epoch: ' + e.history.join(' ')));
        }
        c.appendChild(el('div', { 'class': 'muted' }, 'epoch ' + api.epochNumber(r) + ', iteration ' + r.iteration + ', ' + r.source));
        if (namesExamples(r)) {
          markControls(c, e, r.numClasses || Math.max(2, e.given + 1, e.predicted + 1));
        } else {
          c.appendChild(el('div', { 'class': 'muted' }, 'not markable: named by ' + r.identity + ', not by a stable example index'));
        }
        g.appendChild(c);
      });
      cardEl.appendChild(g);
      hitsBox.appendChild(cardEl);
      hitsBox.appendChild(el('div', { style: 'height:14px' }));
    }

    function card(s, shape, numClasses) {
      var m = marks[s.index];
      var c = el('div', { 'class': 'suspect' + (m ? ' marked-' + m.decision : ''), 'data-index': s.index });
      var canvas = el('canvas', { 'class': 'suspect-img' });
      c.appendChild(canvas);
      drawFeatures(canvas, s, shape);
      c.appendChild(el('div', { 'class': 'suspect-title' }, '#' + s.index + ' (rank ' + s.rank + ')'));
      c.appendChild(el('div', { 'class': 'suspect-labels' }, 'given ' + s.given + ' \u2192 predicted ' + s.predicted));
      c.appendChild(el('div', { 'class': 'muted' }, 'combined ' + fmt(s.combined, 2) + ' \u00b7 AUM ' + fmt(s.aum, 2)));
      c.appendChild(el('div', { 'class': 'muted' }, 'conf ' + fmt(s.confidence, 2) + ' \u00b7 var ' +
        fmt(s.variability, 2) + ' \u00b7 correct ' + fmt(s.correctness, 2)));
      c.appendChild(el('div', { 'class': 'muted' }, 'forgot ' + fmt(s.forgetting, 0) + ' \u00b7 learned since ' +
        (s.learnedSince === null || s.learnedSince < 0 ? 'never' : 'epoch ' + (s.learnedSince + 1))));
      markControls(c, s, numClasses);
      return c;
    }

    function drawGrid() {
      grid.textContent = '';
      if (!latest) { return; }
      var sort = SORTS.filter(function (s) { return s.key === sortSel.value; })[0];
      var list = latest.suspects.slice().sort(function (a, b) {
        var x = sort.value ? sort.value(a) : a[sort.key], y = sort.value ? sort.value(b) : b[sort.key];
        if (x === null || x === undefined) { return 1; }
        if (y === null || y === undefined) { return -1; }
        if (x === y) { return a.rank - b.rank; }
        return sort.dir * (x - y) || a.rank - b.rank;
      });
      list.forEach(function (s) { grid.appendChild(card(s, latest.featureShape || [], latest.numClasses)); });
    }

    function drawSummary() {
      summary.textContent = '';
      if (!latest) { return; }
      var sm = latest.summary || {};
      summary.appendChild(el('div', null, 'Epoch ' + api.epochNumber(latest) + ' \u00b7 ' + fmt(sm.seen, 0) + ' of ' +
        latest.numExamples + ' examples seen \u00b7 logits from ' + latest.capture + ' \u00b7 mean AUM ' +
        fmt(sm.meanAum, 3) + ' \u00b7 ' + fmt(100 * sm.fracNegativeAum, 1) + ' % with negative AUM \u00b7 top ' +
        latest.suspects.length + ' suspects shown'));
    }

    var metricsTitle = null, metricsTable = null;
    function drawMetrics() {
      if (!latest || !latest.numFlipped) { metricsBox.textContent = ''; metricChart = null; return; }
      if (!metricChart) {
        metricsBox.textContent = '';
        var cardEl = el('div', { 'class': 'card' });
        metricsTitle = el('h3');
        cardEl.appendChild(metricsTitle);
        metricsTable = el('table', { id: 'suspects-metrics-table' });
        cardEl.appendChild(metricsTable);
        var div = el('div', { 'class': 'chart', id: 'suspects-metric-chart' });
        cardEl.appendChild(div);
        metricsBox.appendChild(cardEl);
        metricsBox.appendChild(el('div', { style: 'height:14px' }));
        metricChart = api.chart(div);
      }
      metricsTitle.textContent = 'Ranking quality against the ' + latest.numFlipped +
        ' known flipped labels (k = ' + latest.numFlipped + '), epoch ' + api.epochNumber(latest);
      var t = metricsTable;
      t.textContent = '';
      var hr = el('tr');
      ['score', 'AUROC', 'precision@k', 'recall@k'].forEach(function (h) { hr.appendChild(el('th', null, h)); });
      t.appendChild(hr);
      latest.metrics.forEach(function (m) {
        var tr = el('tr');
        tr.appendChild(el('td', null, m.score));
        tr.appendChild(el('td', null, fmt(m.auroc, 4)));
        tr.appendChild(el('td', null, fmt(m.precisionAtK, 4)));
        tr.appendChild(el('td', null, fmt(m.recallAtK, 4)));
        t.appendChild(tr);
      });
      var series = [];
      ['combined', 'aum'].forEach(function (score) {
        [['auroc', 'AUROC'], ['precisionAtK', 'precision@k']].forEach(function (key) {
          series.push({
            name: score + ' ' + key[1], type: 'line', showSymbol: true,
            data: records.map(function (r) {
              var m = (r.metrics || []).filter(function (x) { return x.score === score; })[0];
              return [api.epochNumber(r), m ? m[key[0]] : null];
            })
          });
        });
      });
      metricChart.setOption({
        tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid: { top: 40, left: 50, right: 20, bottom: 40 },
        xAxis: { type: 'value', name: 'epoch', nameLocation: 'middle', nameGap: 24, minInterval: 1 },
        yAxis: { type: 'value', scale: true },
        series: series
      });
    }

    function drawMap() {
      if (!latest || !latest.dataMap) { return; }
      if (!mapChart) { mapChart = api.chart(mapDiv); }
      var dm = latest.dataMap;
      var top = {};
      latest.suspects.forEach(function (s) { top[s.index] = true; });
      var pts = [], sus = [];
      for (var i = 0; i < dm.index.length; i++) {
        var p = [dm.variability[i], dm.confidence[i], dm.correctness[i], dm.index[i]];
        pts.push(p);
        if (top[dm.index[i]]) { sus.push(p); }
      }
      mapChart.setOption({
        tooltip: { formatter: function (p) { return '#' + p.value[3] + ' conf ' + fmt(p.value[1], 2) +
          ' var ' + fmt(p.value[0], 2) + ' correct ' + fmt(p.value[2], 2); } },
        grid: { top: 20, left: 50, right: 90, bottom: 40 },
        xAxis: { type: 'value', name: 'variability', min: 0 },
        yAxis: { type: 'value', name: 'confidence', min: 0, max: 1 },
        visualMap: { dimension: 2, min: 0, max: 1, seriesIndex: 0, right: 0, top: 'middle', text: ['correct', 'wrong'],
          inRange: { color: ['#c0392b', '#f1c40f', '#27ae60'] }, calculable: true },
        series: [
          { name: 'examples', type: 'scatter', symbolSize: 4, data: pts },
          { name: 'suspects', type: 'scatter', symbolSize: 10, data: sus,
            itemStyle: { color: 'rgba(0,0,0,0)', borderColor: '#c0392b', borderWidth: 2 } }
        ]
      }, true);
    }

    function loadMarks() {
      return api.getJson(base + '/marks').then(function (list) {
        var next = {};
        list.forEach(function (m) { next[m.index] = m; });
        var changed = JSON.stringify(next) !== JSON.stringify(marks);
        marks = next;
        markCount.textContent = list.length + ' example(s) marked';
        if (changed) { drawGrid(); drawHits(); }
      });
    }

    api.follow(TYPE, function (all) {
      records = all;
      if (!all.length) {
        api.empty(grid, 'No suspects yet: they appear at the end of the first epoch of training with the ' +
          'TrainingDynamicsListener.');
        return;
      }
      latest = all[all.length - 1];
      drawSummary();
      drawMetrics();
      drawGrid();
      drawMap();
    });
    var assertionType = api.typeOf('assertions', 'AssertionFinding');
    if (assertionType) {
      api.follow(assertionType, function (all) {
        var sent = all.filter(function (r) { return (r.action || '').split(',').indexOf('send-to-suspects') >= 0; });
        if (sent.length !== hits.length) { hits = sent; drawHits(); }
      });
    }
    api.poll(loadMarks);
  }
});

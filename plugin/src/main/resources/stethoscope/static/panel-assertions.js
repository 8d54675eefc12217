/*
 * Model assertions (AssertionFinding): a timeline of firings per assertion, with severity, window,
 * message and action; the flagged examples of per-example and time-consistency assertions; links
 * to the related panel (layer health for gradient and activation rules, suspects for examples sent
 * to the review list). With findings of several workers (Spark), each row names its worker.
 */
Stethoscope.registerPanel({
  id: 'assertions',
  render: function (root, api) {
    var el = api.el;
    // the panel that shows the signal an assertion read
    var RELATED = {
      'non-finite': 'health', 'exploding-gradients': 'health', 'vanishing-gradients': 'health',
      'dying-relu': 'health', 'saturation': 'health', 'update-ratio': 'health',
      'prediction-collapse': 'suspects', 'single-class-labels': 'suspects',
      'validation-divergence': 'memorization'
    };
    var summary = el('div', { id: 'assertions-summary' });
    var chartBox = el('div', { id: 'assertions-chart', style: 'height:260px' });
    var list = el('div', { id: 'assertions-list' });
    root.appendChild(el('p', { 'class': 'muted' },
      'Built-in training-bug detectors, the configuration lint and your own assertions. Each fires once per episode ' +
      '(and again if it escalates from WARNING to ERROR); the window is the evidence that fired it. ' +
      'Thresholds and sources: docs/ASSERTIONS.md.'));
    root.appendChild(summary);
    root.appendChild(chartBox);
    root.appendChild(list);
    var chart = typeof echarts !== 'undefined' ? api.chart(chartBox) : null;

    function windowText(r) {
      if (r.unit === 'attach') { return 'at attach (configuration, first batch)'; }
      var unit = r.unit === 'epoch' ? 'epoch' : 'step';
      return r.from === r.to ? unit + ' ' + r.from : unit + 's ' + r.from + '..' + r.to;
    }

    /** The worker that wrote a record (Spark: DL4J's worker id; one JVM: 0), without the monitor suffix. */
    function workerOf(r) {
      var w = String(r.workerId || '');
      var slash = w.lastIndexOf('/');
      return slash > 0 ? w.substring(0, slash) : w;
    }

    function sent(r) { return (r.action || '').split(',').indexOf('send-to-suspects') >= 0; }

    function actionText(r) {
      return (r.action || '').split(',').map(function (a) {
        if (a === 'stop') { return 'stopped training'; }
        if (a === 'checkpoint') { return r.checkpoint ? 'checkpoint ' + r.checkpoint : 'checkpoint failed (see the log)'; }
        if (a === 'send-to-suspects') { return 'sent to suspects'; }
        return a;
      }).join(', ');
    }

    function examplesText(r) {
      if (!r.examples || !r.examples.length) { return ''; }
      var named = ['example-index', 'metadata', 'content-hash'].indexOf(r.identity) >= 0 ? 'example' : r.identity;
      var parts = r.examples.map(function (e) {
        var t = '#' + e.index + ' (' + Number(e.severity).toPrecision(3) + ')';
        if (e.history && e.history.length) { t += ' classes ' + e.history.join('\u2192'); }
        return t;
      });
      var rest = r.flagged - r.examples.length;
      return r.source + ', by ' + named + ': ' + parts.join(', ') + (rest > 0 ? ' and ' + rest + ' more' : '');
    }

    function related(id, rs) {
      var panel = RELATED[id] || (rs && rs.some(sent) ? 'suspects' : null);
      if (!panel || !document.getElementById('nav-' + panel)) { return null; }
      var a = el('a', { href: '#' + panel, 'class': 'assertion-related' }, 'see ' + panel);
      a.addEventListener('click', function (e) {
        e.preventDefault();
        document.getElementById('nav-' + panel).click();
      });
      return a;
    }

    api.follow(api.types[0], function (all) {
      list.textContent = '';
      summary.textContent = '';
      if (!all.length) {
        var note = el('div', { 'class': 'assertions-healthy' }, 'No assertion has fired in this run.');
        summary.appendChild(note);
        api.staticInfo(api.types[0]).then(function (infos) {
          note.textContent = infos.length
            ? 'The assertions monitor is attached and no assertion has fired: healthy.'
            : 'No assertion has fired, but the assertions monitor was not attached to this run ' +
              '(ModelAssertions.builder(net, storage)), so that says nothing.';
        }).catch(function () { });
        if (chart) { chart.clear(); }
        return;
      }
      var byId = {};
      var order = [];
      all.forEach(function (r) {
        if (!byId[r.detector]) { byId[r.detector] = []; order.push(r.detector); }
        byId[r.detector].push(r);
      });
      // distributed training (Spark): several workers' findings, each row says which worker
      var workers = [];
      all.forEach(function (r) { var w = workerOf(r); if (workers.indexOf(w) < 0) { workers.push(w); } });
      var byWorker = workers.length > 1;
      var errors = order.filter(function (id) { return byId[id].some(function (r) { return r.severity === 'ERROR'; }); });
      summary.appendChild(el('div', { 'class': errors.length ? 'sim-warning assertions-firing' : 'assertions-firing' },
        order.length + ' assertion' + (order.length === 1 ? '' : 's') + ' fired (' + errors.length + ' with ERROR): ' +
        order.join(', ') + (byWorker ? '; from ' + workers.length + ' workers' : '')));

      if (chart) {
        var series = ['WARNING', 'ERROR'].map(function (sev) {
          return {
            name: sev, type: 'scatter', symbolSize: 12,
            itemStyle: { color: sev === 'ERROR' ? '#c0392b' : '#e0a800' },
            data: all.filter(function (r) { return r.severity === sev; }).map(function (r) {
              return [r.iteration, order.indexOf(r.detector)];
            })
          };
        });
        chart.setOption({
          tooltip: { trigger: 'item', formatter: function (p) { return echarts.format.encodeHTML(order[p.value[1]] + ' ' + p.seriesName + ' at iteration ' + p.value[0]); } },
          legend: { data: ['WARNING', 'ERROR'] },
          grid: { left: 170, right: 30, top: 30, bottom: 40 },
          xAxis: { type: 'value', name: 'iteration', nameLocation: 'middle', nameGap: 25, minInterval: 1 },
          yAxis: { type: 'category', data: order },
          series: series
        }, true);
      }

      order.forEach(function (id) {
        var rs = byId[id];
        var section = el('div', { 'class': 'assertion-group', 'data-assertion': id });
        var head = el('h3', null, id + (rs[0].user ? ' (your assertion)' : '') + ': ' + rs.length + ' firing' + (rs.length === 1 ? '' : 's'));
        var link = related(id, rs);
        if (link) { head.appendChild(el('span', null, ' ')); head.appendChild(link); }
        section.appendChild(head);
        var table = el('table');
        var tr0 = el('tr');
        var withExamples = rs.some(function (r) { return r.examples && r.examples.length; });
        (byWorker ? ['worker'] : []).concat(['epoch', 'iteration', 'severity', 'window', 'message', 'action']).concat(withExamples ? ['flagged examples'] : [])
          .forEach(function (h) { tr0.appendChild(el('th', null, h)); });
        table.appendChild(tr0);
        rs.forEach(function (r) {
          var tr = el('tr', { 'class': 'assertion-row' });
          if (byWorker) { tr.appendChild(el('td', { 'class': 'assertion-worker' }, workerOf(r))); }
          tr.appendChild(el('td', null, api.epochNumber(r)));
          tr.appendChild(el('td', null, r.iteration));
          tr.appendChild(el('td', { 'class': r.severity === 'ERROR' ? 'bad assertion-severity' : 'warn assertion-severity' }, r.severity));
          tr.appendChild(el('td', { 'class': 'assertion-window' }, windowText(r)));
          tr.appendChild(el('td', { 'class': 'assertion-message' }, r.message));
          tr.appendChild(el('td', { 'class': 'assertion-action' }, actionText(r)));
          if (withExamples) { tr.appendChild(el('td', { 'class': 'assertion-examples' }, examplesText(r))); }
          table.appendChild(tr);
        });
        section.appendChild(table);
        list.appendChild(section);
      });
    });
  }
});

/* Activation and update health per layer (Health). */
Stethoscope.registerPanel({
  id: 'health',
  render: function (root, api) {
    var TYPE = api.types[0];
    var el = api.el;
    var controls = el('div', { 'class': 'controls' });
    var source = el('select', { id: 'health-source' });
    [['train-batch', 'training batches (every N iterations)'], ['probe-batch', 'fixed probe batch (epoch end)']]
      .forEach(function (o) { source.appendChild(el('option', { value: o[0] }, o[1])); });
    var label = el('label', null, 'Activations from ');
    label.appendChild(source);
    controls.appendChild(label);
    // distributed training (Spark): records of several workers; one of them, or all
    var worker = el('select', { id: 'health-worker' });
    var workerLabel = el('label', { style: 'display:none;margin-left:12px' }, 'Worker ');
    workerLabel.appendChild(worker);
    controls.appendChild(workerLabel);
    root.appendChild(controls);
    var settings = el('div');
    root.appendChild(settings);
    api.staticInfo(TYPE).then(function (infos) { api.settingsLine(settings, infos); });

    var body = el('div');
    root.appendChild(body);
    var charts = null, table = null, records = [];

    var metrics = [
      { key: 'deadFraction', title: 'Dead ReLU units (fraction)', id: 'chart-dead' },
      { key: 'activationMean', title: 'Activation mean', id: 'chart-mean' },
      { key: 'activationStd', title: 'Activation standard deviation', id: 'chart-std' },
      { key: 'updateRatioLog10', title: 'log10(update norm / parameter norm), guide about -3', id: 'chart-ratio' },
      { key: 'paramNorm', title: 'Parameter norm (L2)', id: 'chart-pnorm' }
    ];

    function build() {
      body.textContent = '';
      var latest = el('div', { 'class': 'card' });
      latest.appendChild(el('h3', null, 'Latest, per layer'));
      table = el('table', { id: 'health-latest' });
      latest.appendChild(table);
      body.appendChild(latest);
      body.appendChild(el('div', { style: 'height:14px' }));
      var grid = el('div', { 'class': 'grid' });
      body.appendChild(grid);
      charts = {};
      var divs = metrics.map(function (m) {
        var card = el('div', { 'class': 'card' });
        card.appendChild(el('h3', null, m.title));
        var div = el('div', { 'class': 'chart', id: m.id });
        card.appendChild(div);
        grid.appendChild(card);
        return div;
      });
      // charts are created once every card is in the grid, so each gets its final width
      metrics.forEach(function (m, i) { charts[m.key] = api.chart(divs[i]); });
    }

    function fmt(v, digits) { return v === null || v === undefined ? 'n/a' : Number(v).toFixed(digits); }

    function workerOf(r) {
      var w = String(r.workerId || '');
      var slash = w.lastIndexOf('/');
      return slash > 0 ? w.substring(0, slash) : w;
    }

    /** The worker select lists the workers of the chosen source when there are several (Spark). */
    function updateWorkers(recs) {
      var ids = [];
      recs.forEach(function (r) { var w = workerOf(r); if (ids.indexOf(w) < 0) { ids.push(w); } });
      ids.sort();
      var chosen = worker.value;
      var current = Array.prototype.map.call(worker.options, function (o) { return o.value; });
      var wanted = [''].concat(ids);
      if (current.join('\n') !== wanted.join('\n')) {
        worker.textContent = '';
        worker.appendChild(el('option', { value: '' }, 'every worker'));
        ids.forEach(function (w) { worker.appendChild(el('option', { value: w }, w === '0' ? '0 (this JVM / driver)' : w)); });
        worker.value = wanted.indexOf(chosen) >= 0 ? chosen : '';
      }
      workerLabel.style.display = ids.length > 1 ? '' : 'none';
    }

    function draw() {
      var fromSource = records.filter(function (r) { return r.source === source.value; });
      updateWorkers(fromSource);
      var recs = worker.value === '' ? fromSource
        : fromSource.filter(function (r) { return workerOf(r) === worker.value; });
      if (worker.value === '') {
        recs = recs.slice().sort(function (a, b) { return a.iteration - b.iteration; });
      }
      if (!recs.length) {
        charts = null;
        api.empty(body, records.length ? 'No records from this source yet.' :
          'No health records yet: they appear after the first sampled iteration.');
        return;
      }
      if (!charts) { build(); }
      var layers = recs[recs.length - 1].layers;
      // every worker: one line per layer and worker (joining several workers' points in one line zigzags)
      var groups = [];
      recs.forEach(function (r) {
        var w = workerOf(r);
        var g = groups.filter(function (x) { return x.worker === w; })[0];
        if (!g) { g = { worker: w, recs: [] }; groups.push(g); }
        g.recs.push(r);
      });
      groups.sort(function (a, b) { return a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : 0; });
      metrics.forEach(function (m) {
        var series = [];
        groups.forEach(function (g) {
          layers.forEach(function (name, li) {
            series.push({
              name: groups.length > 1 ? name + ' · worker ' + g.worker : name, type: 'line',
              showSymbol: g.recs.length < 60, connectNulls: false,
              data: g.recs.map(function (r) { return [r.iteration, r[m.key] ? r[m.key][li] : null]; })
            });
          });
        });
        var opt = {
          animation: false,
          tooltip: { trigger: 'axis' },
          legend: { type: 'scroll', top: 0 },
          grid: { left: 56, right: 16, top: 32, bottom: 36 },
          xAxis: { type: 'value', name: 'iteration', nameLocation: 'middle', nameGap: 24, min: 'dataMin' },
          yAxis: { type: 'value', scale: m.key !== 'deadFraction', min: m.key === 'deadFraction' ? 0 : null,
                   max: m.key === 'deadFraction' ? 1 : null },
          series: series
        };
        if (m.key === 'deadFraction' && series.length) {
          series[0].markArea = { silent: true, itemStyle: { color: 'rgba(192,57,43,0.10)' },
                                 data: [[{ yAxis: 0.5 }, { yAxis: 1 }]] };
        }
        if (m.key === 'updateRatioLog10' && series.length) {
          series[0].markLine = { silent: true, symbol: 'none', lineStyle: { type: 'dashed', color: '#888' },
                                 data: [{ yAxis: -3 }] };
        }
        charts[m.key].setOption(opt, true);
      });
      var last = recs[recs.length - 1];
      table.textContent = '';
      var head = el('tr');
      ['layer', 'dead units', 'act. mean', 'act. std', 'param norm', 'log10 update ratio'].forEach(function (h) {
        head.appendChild(el('th', null, h));
      });
      table.appendChild(head);
      layers.forEach(function (name, li) {
        var tr = el('tr');
        tr.appendChild(el('td', { 'class': 'layer-name' }, name));
        var dead = last.deadFraction[li];
        var td = el('td', null, dead === null ? 'n/a' : (100 * dead).toFixed(1) + ' %');
        if (dead !== null && dead >= 0.5) { td.className = 'bad'; } else if (dead !== null && dead > 0.1) { td.className = 'warn'; }
        tr.appendChild(td);
        tr.appendChild(el('td', null, fmt(last.activationMean[li], 4)));
        tr.appendChild(el('td', null, fmt(last.activationStd[li], 4)));
        tr.appendChild(el('td', null, fmt(last.paramNorm[li], 3)));
        var ratio = last.updateRatioLog10[li];
        var rt = el('td', null, fmt(ratio, 2));
        if (ratio !== null && (ratio > -1.5 || ratio < -5)) { rt.className = 'warn'; }
        tr.appendChild(rt);
        table.appendChild(tr);
      });
      table.appendChild(el('caption', { 'class': 'muted', style: 'caption-side:bottom;text-align:left' },
        (groups.length > 1 ? 'worker ' + workerOf(last) + ', ' : '') +
        'epoch ' + api.epochNumber(last) + ', iteration ' + last.iteration + ' · dead = not positive for any example of the batch (ReLU layers)'));
    }

    source.addEventListener('change', function () { charts = null; draw(); });
    worker.addEventListener('change', function () { charts = null; draw(); });
    api.follow(TYPE, function (all) { records = all; draw(); });
  }
});

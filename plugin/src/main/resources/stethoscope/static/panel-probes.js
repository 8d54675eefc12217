/* Linear probe accuracy per layer (ProbeAccuracy; Alain & Bengio). */
Stethoscope.registerPanel({
  id: 'probes',
  render: function (root, api) {
    var TYPE = api.types[0];
    var el = api.el;
    var settings = el('div');
    root.appendChild(settings);
    api.staticInfo(TYPE).then(function (infos) { api.settingsLine(settings, infos); });
    var body = el('div');
    root.appendChild(body);
    var charts = null, epochSel = null, table = null, records = [];

    function build() {
      body.textContent = '';
      var grid = el('div', { 'class': 'grid' });
      body.appendChild(grid);
      var c1 = el('div', { 'class': 'card' });
      c1.appendChild(el('h3', null, 'Probe test accuracy per layer over epochs (dashed: probe-train)'));
      var d1 = el('div', { 'class': 'chart', id: 'chart-probe-epochs' });
      c1.appendChild(d1);
      grid.appendChild(c1);
      var c2 = el('div', { 'class': 'card' });
      var h = el('h3', null, 'Across depth at epoch ');
      epochSel = el('select', { id: 'probe-epoch' });
      h.appendChild(epochSel);
      c2.appendChild(h);
      var d2 = el('div', { 'class': 'chart', id: 'chart-probe-depth' });
      c2.appendChild(d2);
      grid.appendChild(c2);
      body.appendChild(el('div', { style: 'height:14px' }));
      table = el('table', { id: 'probe-table' });
      body.appendChild(table);
      body.appendChild(el('div', { 'class': 'muted' },
        'Expected on a trained classifier: probe accuracy rises with depth (Alain & Bengio 2016). ' +
        'A large train/test gap means the probe memorises its probe-train set (many features, few examples).'));
      charts = { epochs: api.chart(d1), depth: api.chart(d2) };
      epochSel.addEventListener('change', drawDepth);
    }

    function pct(v) { return v === null || v === undefined ? 'n/a' : (100 * v).toFixed(1) + ' %'; }

    function drawDepth() {
      var rec = records.filter(function (r) { return String(r.snapshotEpoch) === epochSel.value; }).pop();
      if (!rec) { return; }
      charts.depth.setOption({
        animation: false,
        tooltip: { trigger: 'axis' },
        legend: { top: 0 },
        grid: { left: 48, right: 16, top: 32, bottom: 60 },
        xAxis: { type: 'category', data: rec.layers, axisLabel: { rotate: rec.layers.length > 6 ? 30 : 0 } },
        yAxis: { type: 'value', min: 0, max: 1, name: 'accuracy' },
        series: [
          { name: 'probe-test', type: 'bar', data: rec.testAccuracy },
          { name: 'probe-train', type: 'bar', data: rec.trainAccuracy }
        ]
      }, true);
      table.textContent = '';
      var head = el('tr');
      ['layer', 'features', 'probe-train acc.', 'probe-test acc.', 'train loss', 'test loss', 'L2 (held-out choice)',
        'gradient norm (convergence)'].forEach(function (x) {
        head.appendChild(el('th', null, x));
      });
      table.appendChild(head);
      rec.layers.forEach(function (name, i) {
        var tr = el('tr');
        tr.appendChild(el('td', { 'class': 'layer-name' }, name));
        tr.appendChild(el('td', null, rec.features[i]));
        tr.appendChild(el('td', null, pct(rec.trainAccuracy[i])));
        tr.appendChild(el('td', null, pct(rec.testAccuracy[i])));
        tr.appendChild(el('td', null, rec.trainLoss[i] === null ? 'n/a' : Number(rec.trainLoss[i]).toFixed(3)));
        tr.appendChild(el('td', null, rec.testLoss[i] === null ? 'n/a' : Number(rec.testLoss[i]).toFixed(3)));
        // older records carry neither
        var l2 = rec.l2 && rec.l2.length > i ? rec.l2[i] : null;
        var gn = rec.gradientNorm && rec.gradientNorm.length > i ? rec.gradientNorm[i] : null;
        tr.appendChild(el('td', { 'class': 'probe-l2' }, l2 === null ? 'n/a' : Number(l2).toExponential(0)));
        tr.appendChild(el('td', { 'class': 'probe-grad' }, gn === null ? 'n/a' : Number(gn).toExponential(1)));
        table.appendChild(tr);
      });
      table.appendChild(el('caption', { 'class': 'muted', style: 'caption-side:bottom;text-align:left' },
        'after epoch ' + rec.snapshotEpoch + (rec.isFinal ? ' (final)' : '') + ' · ' + rec.trainExamples +
        ' probe-train / ' + rec.testExamples + ' probe-test examples · features: ' + rec.featureMode));
    }

    function draw() {
      if (!records.length) {
        charts = null;
        api.empty(body, 'No probe records yet: they appear after the first probed epoch.');
        return;
      }
      if (!charts) { build(); }
      var layers = records[records.length - 1].layers;
      var series = [];
      layers.forEach(function (name, li) {
        series.push({ name: name, type: 'line', data: records.map(function (r) { return [r.snapshotEpoch, r.testAccuracy[li]]; }) });
      });
      layers.forEach(function (name, li) {
        series.push({ name: name, type: 'line', lineStyle: { type: 'dashed', opacity: 0.5 }, symbol: 'none',
          data: records.map(function (r) { return [r.snapshotEpoch, r.trainAccuracy[li]]; }) });
      });
      charts.epochs.setOption({
        animation: false,
        tooltip: { trigger: 'axis' },
        legend: { type: 'scroll', top: 0, data: layers },
        grid: { left: 48, right: 16, top: 32, bottom: 36 },
        xAxis: { type: 'value', name: 'epoch', nameLocation: 'middle', nameGap: 24, minInterval: 1 },
        yAxis: { type: 'value', min: 0, max: 1, name: 'accuracy' },
        series: series
      }, true);
      var keep = epochSel.value;
      var epochs = records.map(function (r) { return String(r.snapshotEpoch); });
      var distinct = epochs.filter(function (e, i) { return epochs.indexOf(e) === i; });
      if (epochSel.options.length !== distinct.length) {
        epochSel.textContent = '';
        distinct.forEach(function (e) { epochSel.appendChild(el('option', { value: e }, e)); });
        epochSel.value = distinct.indexOf(keep) >= 0 && keep !== distinct[distinct.length - 2] ? keep : distinct[distinct.length - 1];
      }
      drawDepth();
    }

    api.follow(TYPE, function (all) { records = all; draw(); });
  }
});

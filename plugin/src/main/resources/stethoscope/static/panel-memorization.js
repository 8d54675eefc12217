/* Memorisation signals (Memorization per epoch, LossSensitivitySample every N iterations). */
Stethoscope.registerPanel({
  id: 'memorization',
  render: function (root, api) {
    var TYPE = api.types[0];
    var SENS = api.types[1];
    var el = api.el;
    root.appendChild(el('div', { 'class': 'muted' },
      'Arpit et al. 2017: critical sample ratio (CSR) of a fixed validation subset found with Langevin adversarial ' +
      'sample search; loss sensitivity ||dL/dx||_1 of a fixed training subset, its Gini coefficient (near 0: the ' +
      'network is equally sensitive to every example, typical of memorising noise) and its per-class matrix. ' +
      'Rising CSR with falling validation accuracy while training accuracy still rises suggests memorisation.'));
    var params = el('div', { 'class': 'settings', id: 'mem-params' });
    root.appendChild(params);
    var body = el('div');
    root.appendChild(body);
    var charts = null, records = [], sens = [], epochSel = null, latest = null;

    function card(grid, title, id) {
      var c = el('div', { 'class': 'card' });
      c.appendChild(el('h3', null, title));
      var div = el('div', { 'class': 'chart', id: id });
      c.appendChild(div);
      grid.appendChild(c);
      return div;
    }

    function build() {
      body.textContent = '';
      latest = el('table', { id: 'mem-latest' });
      var lc = el('div', { 'class': 'card' });
      lc.appendChild(el('h3', null, 'Latest epoch'));
      lc.appendChild(latest);
      body.appendChild(lc);
      body.appendChild(el('div', { style: 'height:14px' }));
      var grid = el('div', { 'class': 'grid' });
      body.appendChild(grid);
      // all cards first, then the charts: a chart sized while its grid had fewer cards would overflow
      var divs = {
        csr: card(grid, 'Critical sample ratio per epoch (validation subset)', 'mem-csr'),
        acc: card(grid, 'Accuracy per epoch: training vs validation subset', 'mem-acc'),
        gini: card(grid, 'Loss-sensitivity Gini coefficient', 'mem-gini')
      };
      var hc = el('div', { 'class': 'card' });
      var head = el('h3', null, 'Per-class loss sensitivity, epoch ');
      epochSel = el('select', { id: 'mem-heat-epoch' });
      head.appendChild(epochSel);
      hc.appendChild(head);
      hc.appendChild(el('div', { 'class': 'muted' },
        'cell (i, j) = mean over training examples of class j of ||dL(y = i)/dx||_1'));
      var hd = el('div', { 'class': 'chart', id: 'mem-heat' });
      hc.appendChild(hd);
      grid.appendChild(hc);
      charts = { csr: api.chart(divs.csr), acc: api.chart(divs.acc), gini: api.chart(divs.gini), heat: api.chart(hd) };
      epochSel.addEventListener('change', drawHeat);
    }

    function fmt(v, d) { return v === null || v === undefined ? 'n/a' : Number(v).toFixed(d); }

    function lineOpt(xName, series, yMin, yMax) {
      return {
        animation: false, tooltip: { trigger: 'axis' }, legend: { top: 0 },
        grid: { left: 56, right: 16, top: 32, bottom: 36 },
        xAxis: { type: 'value', name: xName, nameLocation: 'middle', nameGap: 24, minInterval: 1 },
        yAxis: { type: 'value', min: yMin, max: yMax },
        series: series
      };
    }

    function showParams(p) {
      params.textContent = '';
      var keys = Object.keys(p || {});
      params.appendChild(el('span', null, 'Parameters: ' + keys.map(function (k) { return k + ' = ' + p[k]; }).join(', ')));
    }

    function drawHeat() {
      if (!charts || !records.length) { return; }
      var want = Number(epochSel.value);
      var r = records.filter(function (x) { return x.epoch === want; })[0] || records[records.length - 1];
      var k = r.numClasses, m = r.perClassSensitivity || [], data = [], max = 0;
      for (var i = 0; i < k; i++) {
        for (var j = 0; j < k; j++) {
          var v = m[i * k + j];
          data.push([j, i, v === null ? '-' : v]);
          if (v !== null && v > max) { max = v; }
        }
      }
      var cats = []; for (var c = 0; c < k; c++) { cats.push(String(c)); }
      charts.heat.setOption({
        animation: false,
        tooltip: { formatter: function (q) { return 'loss class ' + q.value[1] + ', examples of class ' + q.value[0] +
          ': ' + (q.value[2] === '-' ? 'no examples' : Number(q.value[2]).toPrecision(4)); } },
        grid: { left: 70, right: 80, top: 10, bottom: 50 },
        xAxis: { type: 'category', data: cats, name: 'class of examples (j)', nameLocation: 'middle', nameGap: 28 },
        yAxis: { type: 'category', data: cats, name: 'loss class (i)', nameLocation: 'middle', nameGap: 40 },
        visualMap: { min: 0, max: max || 1, calculable: true, orient: 'vertical', right: 0, top: 'center' },
        series: [{ type: 'heatmap', data: data, name: 'sensitivity' }]
      }, true);
    }

    function draw() {
      if (!records.length) {
        charts = null;
        api.empty(body, 'No memorisation records yet: they appear at the end of the first epoch.');
        return;
      }
      if (!charts) { build(); }
      var last = records[records.length - 1];
      showParams(last.parameters);
      var ep = api.epochNumber;
      charts.csr.setOption(lineOpt('epoch', [{ name: 'CSR at ' + radiusText(last), type: 'line', connectNulls: false,
        data: records.map(function (r) { return [ep(r), r.criticalSampleRatio]; }) }], 0, null), true);
      charts.acc.setOption(lineOpt('epoch', [
        { name: 'training subset', type: 'line', data: records.map(function (r) { return [ep(r), r.trainAccuracy]; }) },
        { name: 'validation subset', type: 'line', data: records.map(function (r) { return [ep(r), r.valAccuracy]; }) }
      ], 0, 1), true);
      charts.gini.setOption(lineOpt('epoch', [
        { name: 'Gini (epoch averages)', type: 'line', data: records.map(function (r) { return [ep(r), r.sensitivityGini]; }) },
        { name: 'Gini (all measurements)', type: 'line', data: records.map(function (r) { return [ep(r), r.sensitivityGiniCumulative]; }) }
      ], 0, null), true);
      var prev = epochSel.value;
      epochSel.textContent = '';
      records.forEach(function (r) { epochSel.appendChild(el('option', { value: String(r.epoch) }, String(ep(r)))); });
      epochSel.value = prev && records.some(function (r) { return String(r.epoch) === prev; }) ? prev : String(last.epoch);
      drawHeat();
      latest.textContent = '';
      [['epoch', ep(last)],
       ['critical sample ratio', fmt(last.criticalSampleRatio, 4) + ' at ' + radiusText(last) + ' (' + last.criticalCount + ' of ' + last.csrExamples +
         ', mean steps to critical ' + fmt(last.csrMeanIterations, 1) + ', ' + last.csrCertified +
         ' proved non-critical by interval bounds, ' + last.csrMillis + ' ms)'],
       ['training subset accuracy / loss', fmt(last.trainAccuracy, 4) + ' / ' + fmt(last.trainLoss, 4) + ' (' + last.trainExamples + ' examples)'],
       ['validation subset accuracy / loss', fmt(last.valAccuracy, 4) + ' / ' + fmt(last.valLoss, 4) + ' (' + last.valExamples + ' examples)'],
       ['mean training minibatch score', fmt(last.trainScoreMean, 4)],
       ['loss sensitivity mean / Gini', fmt(last.sensitivityMean, 4) + ' / ' + fmt(last.sensitivityGini, 4) +
         ' (' + last.sensitivityMeasurements + ' measurement' + (last.sensitivityMeasurements === 1 ? '' : 's') +
         ' this epoch, ' + sens.length + ' in all)']
      ].forEach(function (row) {
        var tr = el('tr');
        tr.appendChild(el('th', null, row[0]));
        tr.appendChild(el('td', { 'class': 'mem-value' }, String(row[1])));
        latest.appendChild(tr);
      });
    }

    // the LASS radius a CSR was measured with: in 1/255 units (pixel grey levels) and as a number
    function radiusText(r) {
      var rad = r.csrRadius;
      if (rad === null || rad === undefined) {
        rad = r.parameters && r.parameters.radius !== undefined ? Number(r.parameters.radius) : NaN;
      }
      if (!isFinite(rad)) { return 'radius unknown'; }
      var preset = r.csrPreset || (r.parameters && r.parameters.preset) || '';
      return 'r = ' + fmt(rad * 255, 2) + '/255 = ' + fmt(rad, 5) + (preset ? ' (preset ' + preset + ')' : '');
    }

    api.follow(SENS, function (all) { sens = all; });
    api.follow(TYPE, function (all) { records = all; draw(); });
  }
});

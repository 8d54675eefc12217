/* SVCCA / PWCCA / CKA layer similarity (SimilarityTable; Raghu et al. 2017). */
Stethoscope.registerPanel({
  id: 'similarity',
  render: function (root, api) {
    var TYPE = api.types[0];
    var el = api.el;
    var controls = el('div', { 'class': 'controls' });
    var methodSel = el('select', { id: 'similarity-method' });
    var ml = el('label', null, 'Method ');
    ml.appendChild(methodSel);
    controls.appendChild(ml);
    var epochSel = el('select', { id: 'similarity-epoch' });
    var el2 = el('label', null, 'Heatmap epoch ');
    el2.appendChild(epochSel);
    controls.appendChild(el2);
    root.appendChild(controls);
    // warnings about the displayed values: under-determined CCA, few data points per neuron, PWCCA's side
    var warning = el('div', { 'class': 'sim-warning', id: 'similarity-warning' });
    warning.style.display = 'none';
    root.appendChild(warning);
    var pwccaNote = el('div', { 'class': 'muted', id: 'similarity-pwcca-note' },
      'PWCCA weights the canonical correlations by the layer with fewer CCA directions (as google/svcca\'s pwcca.py;' +
      ' the first layer on a tie). A layer\'s series can switch sides between epochs when its rank changes, so a step' +
      ' in a PWCCA curve can come from the weighting rather than the representation.');
    pwccaNote.style.display = 'none';
    root.appendChild(pwccaNote);
    var settings = el('div');
    root.appendChild(settings);
    api.staticInfo(TYPE).then(function (infos) { api.settingsLine(settings, infos); });
    var body = el('div');
    root.appendChild(body);
    var charts = null, note = null, records = [];

    function build() {
      body.textContent = '';
      var grid = el('div', { 'class': 'grid' });
      body.appendChild(grid);
      function card(title, id) {
        var c = el('div', { 'class': 'card' });
        var h = el('h3', { id: id + '-title' }, title);
        c.appendChild(h);
        var d = el('div', { 'class': 'chart', id: id });
        c.appendChild(d);
        grid.appendChild(c);
        return { chart: api.chart(d), title: h };
      }
      charts = {
        dyn: card('Learning dynamics: each layer at epoch t vs the same layer at the end', 'chart-sim-dynamics'),
        prev: card('Each layer vs itself at the previous snapshot', 'chart-sim-previous'),
        heat: card('Layer x layer', 'chart-sim-heatmap')
      };
      note = el('div', { 'class': 'muted', id: 'similarity-note' });
      body.appendChild(note);
    }

    var UNDER_TEXT = 'under-determined: the two layers\' kept directions exceed the m - 1 dimensions that m data points' +
      ' span, so some canonical correlations are 1 by dimension counting and the value is inflated towards 1';
    var FEW_TEXT = 'fewer than 10 data points per neuron: even independent random layers score about' +
      ' 0.85 / sqrt(points per neuron) in SVCCA/PWCCA and 1 / (1 + points per neuron) in CKA (e.g. 0.6 and 0.33 at 2' +
      ' points per neuron)';

    function flagOf(r, k) {
      return { under: !!(r.underdetermined && r.underdetermined[k]), few: !!(r.fewPoints && r.fewPoints[k]) };
    }

    function flagText(f) {
      return (f.under ? ' [under-determined]' : '') + (f.few ? ' [few points per neuron]' : '');
    }

    /** A line-chart point, marked (red triangle) when its comparison is flagged. */
    function point(x, y, f) {
      if (!f.under && !f.few) { return [x, y]; }
      return { value: [x, y], symbol: 'triangle', symbolSize: 10,
               itemStyle: { color: f.under ? '#c0392b' : '#e67e22' } };
    }

    function count(r, acc) {
      var n = r.values.length * (r.values.length ? r.values[0].length : 0);
      for (var k = 0; k < n; k++) {
        var f = flagOf(r, k);
        if (f.under) { acc.under++; }
        if (f.few) { acc.few++; }
      }
      acc.points = Math.min(acc.points, r.dataPoints);
    }

    function showWarning(acc) {
      warning.textContent = '';
      if (!acc.under && !acc.few) { warning.style.display = 'none'; return; }
      warning.style.display = '';
      warning.appendChild(el('strong', null, 'Unreliable comparisons (marked \u25B2 in the charts): '));
      var ul = el('ul');
      if (acc.under) { ul.appendChild(el('li', { id: 'similarity-warning-under' }, acc.under + ' value(s) ' + UNDER_TEXT + '.')); }
      if (acc.few) { ul.appendChild(el('li', { id: 'similarity-warning-few' }, acc.few + ' value(s) with ' + FEW_TEXT + '.')); }
      warning.appendChild(ul);
      warning.appendChild(el('span', null, 'Use more probe examples (' + acc.points + ' data points in the first layer now;' +
        ' a dense layer has one per probe example; the listener\'s' +
        ' probeSize / probeInputs, the sample\'s --similarity-examples), or debiased CKA. See docs/PROBES_AND_SIMILARITY.md.'));
    }

    function ofMethod() {
      return records.filter(function (r) { return r.method === methodSel.value; });
    }

    function syncSelect(sel, values) {
      var cur = Array.prototype.map.call(sel.options, function (o) { return o.value; });
      if (cur.join('\n') === values.join('\n')) { return; }
      var keep = sel.value;
      sel.textContent = '';
      values.forEach(function (v) { sel.appendChild(el('option', { value: v }, v)); });
      sel.value = values.indexOf(keep) >= 0 && keep !== cur[cur.length - 1] ? keep : values[values.length - 1];
    }

    function draw() {
      if (!records.length) {
        charts = null;
        api.empty(body, 'No similarity records yet: they appear after the first snapshot.');
        return;
      }
      var methods = records.map(function (r) { return r.method; })
        .filter(function (m, i, a) { return a.indexOf(m) === i; });
      syncSelect(methodSel, methods);
      if (!charts) { build(); }
      var recs = ofMethod();
      var label = methodSel.value.toUpperCase();
      pwccaNote.style.display = methodSel.value === 'pwcca' ? '' : 'none';
      var acc = { under: 0, few: 0, points: Infinity };

      // (a) dynamics: the vs-final table if training ended, else the latest vs-latest table
      var dyn = recs.filter(function (r) { return r.kind === 'vs-final'; }).pop() ||
                recs.filter(function (r) { return r.kind === 'vs-latest'; }).pop();
      if (dyn) {
        charts.dyn.title.textContent = (dyn.kind === 'vs-final'
          ? 'Learning dynamics: ' + label + ' of each layer at epoch t vs the final network (epoch ' + dyn.referenceEpoch + ')'
          : 'Learning dynamics so far: ' + label + ' vs the latest snapshot (epoch ' + dyn.referenceEpoch + '); final table at the end');
        charts.dyn.chart.setOption({
          animation: false, tooltip: { trigger: 'axis' }, legend: { type: 'scroll', top: 0 },
          grid: { left: 48, right: 16, top: 48, bottom: 36 },
          xAxis: { type: 'value', name: 'epoch', nameLocation: 'middle', nameGap: 24, minInterval: 1 },
          yAxis: { type: 'value', min: 0, max: 1, name: label },
          series: dyn.columns.map(function (name, j) {
            return { name: name, type: 'line', data: dyn.rowEpochs.map(function (e, i) {
              return point(e, dyn.values[i][j], flagOf(dyn, i * dyn.columns.length + j));
            }) };
          })
        }, true);
        count(dyn, acc);
      }
      var prev = recs.filter(function (r) { return r.kind === 'vs-previous'; });
      if (prev.length) {
        var cols = prev[prev.length - 1].columns;
        charts.prev.chart.setOption({
          animation: false, tooltip: { trigger: 'axis' }, legend: { type: 'scroll', top: 0 },
          grid: { left: 48, right: 16, top: 48, bottom: 36 },
          xAxis: { type: 'value', name: 'epoch', nameLocation: 'middle', nameGap: 24, minInterval: 1 },
          yAxis: { type: 'value', min: 0, max: 1, name: label },
          series: cols.map(function (name, j) {
            return { name: name, type: 'line', data: prev.map(function (r) { return point(r.snapshotEpoch, r.values[0][j], flagOf(r, j)); }) };
          })
        }, true);
        prev.forEach(function (r) { count(r, acc); });
      }
      var mats = recs.filter(function (r) { return r.kind === 'layers'; });
      syncSelect(epochSel, mats.map(function (r) { return String(r.snapshotEpoch); }));
      var m = mats.filter(function (r) { return String(r.snapshotEpoch) === epochSel.value; }).pop();
      if (m) {
        var data = [], under = 0, undefinedPairs = 0;
        m.rows.forEach(function (rn, i) {
          m.columns.forEach(function (cn, j) {
            var v = m.values[i][j];
            if (v === null) { undefinedPairs++; }
            var f = flagOf(m, i * m.columns.length + j);
            if (f.under) { under++; }
            var cell = [j, i, v === null ? '-' : Number(v.toFixed(3))];
            data.push(f.under || f.few ? { value: cell, flag: flagText(f),
              itemStyle: { borderColor: f.under ? '#c0392b' : '#e67e22', borderWidth: 2 } } : cell);
          });
        });
        charts.heat.title.textContent = 'Layer x layer ' + label + ' at epoch ' + m.snapshotEpoch;
        charts.heat.chart.setOption({
          animation: false,
          tooltip: { formatter: function (p) {
            return echarts.format.encodeHTML(m.rows[p.value[1]] + ' vs ' + m.columns[p.value[0]] + ': ' + p.value[2] +
              ((p.data && p.data.flag) || ''));
          } },
          grid: { left: 90, right: 80, top: 16, bottom: 70 },
          xAxis: { type: 'category', data: m.columns, axisLabel: { rotate: 30 } },
          yAxis: { type: 'category', data: m.rows },
          // the colour scale on the right: below the grid its handles' labels ran into the rotated layer names
          visualMap: { min: 0, max: 1, calculable: true, orient: 'vertical', right: 0, top: 'center', itemHeight: 120 },
          series: [{ type: 'heatmap', data: data, label: { show: m.rows.length <= 8 } }]
        }, true);
        note.textContent = m.dataPoints + ' data points in the first layer\'s representation (a dense layer has one per' +
          ' probe example, a convolutional layer in positions mode one per sampled position). ' +
          (under ? under + ' pair(s) underdetermined (more directions than data points allow: values inflated). ' : '') +
          (undefinedPairs ? undefinedPairs + ' pair(s) undefined (different data points: in positions mode only layers of equal spatial size are compared). ' : '') +
          'Raghu et al.: lower layers converge first.';
        count(m, acc);
      }
      showWarning(acc);
    }

    methodSel.addEventListener('change', draw);
    epochSel.addEventListener('change', draw);
    api.follow(TYPE, function (all) { records = all; draw(); });
  }
});

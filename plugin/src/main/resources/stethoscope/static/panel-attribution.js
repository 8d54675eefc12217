/* Explanation heatmaps at checkpoints (AttributionMaps): examples x methods, epoch slider, quality figures.
   A graph with several inputs: one grid per input, headed by the input's name (set as text, never as HTML). */
Stethoscope.registerPanel({
  id: 'attribution',
  render: function (root, api) {
    var TYPE = api.types[0];
    var el = api.el;
    var settings = el('div');
    root.appendChild(settings);
    api.staticInfo(TYPE).then(function (infos) { api.settingsLine(settings, infos); });

    var controls = el('div', { 'class': 'controls' });
    var sliderLabel = el('label', null, 'Checkpoint ');
    var slider = el('input', { type: 'range', id: 'attr-slider', min: '0', max: '0', value: '0', step: '1' });
    sliderLabel.appendChild(slider);
    var where = el('span', { id: 'attr-where', 'class': 'muted' });
    var overlayLabel = el('label', null, ' overlay on input ');
    var overlay = el('input', { type: 'checkbox', id: 'attr-overlay' });
    overlay.checked = true;
    overlayLabel.appendChild(overlay);
    controls.appendChild(sliderLabel);
    controls.appendChild(where);
    controls.appendChild(overlayLabel);
    root.appendChild(controls);

    var body = el('div');
    root.appendChild(body);
    var records = [];
    var followLatest = true;
    var aopcChart = null;

    function fmt(v, d) { return v === null || v === undefined ? 'n/a' : Number(v).toFixed(d); }
    function mean(a) {
      var s = 0, n = 0;
      (a || []).forEach(function (v) { if (v !== null && v !== undefined) { s += v; n++; } });
      return n ? s / n : null;
    }
    function meanAbs(a) { return mean((a || []).map(function (v) { return v === null ? null : Math.abs(v); })); }
    /* The inputs a record shows: its first input (the main fields), then otherInputs (graphs with several inputs). */
    function parts(r) {
      var first = { name: r.inputName, height: r.height, width: r.width, inputs: r.inputs, maps: r.maps,
        aopc: r.aopc, randomAopc: r.randomAopc };
      return [first].concat(r.otherInputs || []);
    }

    /* Draws a heatmap (blue negative, red positive, symmetric scale) optionally over the grey input. */
    function drawCell(canvas, input, map, h, w, withInput) {
      var scale = Math.max(1, Math.floor(112 / Math.max(h, w)));
      canvas.width = w * scale;
      canvas.height = h * scale;
      var ctx = canvas.getContext('2d');
      var maxAbs = 1e-12, inMax = 1e-12, inMin = Infinity;
      for (var i = 0; i < map.length; i++) { maxAbs = Math.max(maxAbs, Math.abs(map[i] || 0)); }
      for (var j = 0; j < input.length; j++) { inMax = Math.max(inMax, input[j] || 0); inMin = Math.min(inMin, input[j] || 0); }
      var range = Math.max(1e-12, inMax - Math.min(0, inMin));
      var img = ctx.createImageData(w * scale, h * scale);
      for (var y = 0; y < h * scale; y++) {
        for (var x = 0; x < w * scale; x++) {
          var p = Math.floor(y / scale) * w + Math.floor(x / scale);
          var v = (map[p] || 0) / maxAbs;
          var a = Math.min(1, Math.abs(v));
          var fade = Math.round(255 * (1 - a));
          var heat = v >= 0 ? [255, fade, fade] : [fade, fade, 255];
          var g = withInput ? Math.round(255 * ((input[p] || 0) - Math.min(0, inMin)) / range) : 255;
          var o = (y * w * scale + x) * 4;
          for (var k = 0; k < 3; k++) {
            img.data[o + k] = withInput ? Math.round((1 - a) * g + a * heat[k]) : heat[k];
          }
          img.data[o + 3] = 255;
        }
      }
      ctx.putImageData(img, 0, 0);
      canvas.setAttribute('data-max-abs', String(maxAbs));
    }

    function drawAopcChart(node) {
      if (!aopcChart) { aopcChart = api.chart(node); }
      var methods = records[records.length - 1].methods;
      var series = methods.map(function (m) {
        return {
          name: m, type: 'line', showSymbol: true,
          data: records.map(function (r) {
            var k = r.methods.indexOf(m);
            return [r.iteration, k < 0 ? null : mean(r.aopc[k])];
          })
        };
      });
      series.push({
        name: 'random order', type: 'line', lineStyle: { type: 'dashed' }, showSymbol: true,
        data: records.map(function (r) { return [r.iteration, mean(r.randomAopc)]; })
      });
      aopcChart.setOption({
        animation: false, tooltip: { trigger: 'axis' }, legend: { type: 'scroll', top: 0 },
        grid: { left: 56, right: 16, top: 32, bottom: 36 },
        xAxis: { type: 'value', name: 'iteration', nameLocation: 'middle', nameGap: 24, min: 'dataMin' },
        yAxis: { type: 'value', name: 'mean AOPC', scale: true },
        series: series
      }, true);
    }

    function draw() {
      if (!records.length) {
        aopcChart = null;
        api.empty(body, 'No attribution records yet: they appear at the first checkpoint (epoch end or a saved checkpoint).');
        return;
      }
      slider.max = String(records.length - 1);
      if (followLatest) { slider.value = String(records.length - 1); }
      var r = records[Number(slider.value)];
      where.textContent = 'epoch ' + api.epochNumber(r) + ', iteration ' + r.iteration + ' (' + (Number(slider.value) + 1) +
        ' of ' + records.length + ')';
      body.textContent = '';
      aopcChart = null;

      var ps = parts(r);
      var several = ps.length > 1;
      var summary = el('table', { id: 'attr-summary' });
      var head = el('tr');
      head.appendChild(el('th', null, 'method'));
      head.appendChild(el('th', null, several ? 'mean |completeness gap| (all inputs)' : 'mean |completeness gap|'));
      ps.forEach(function (part) {
        head.appendChild(el('th', null, several ? 'mean AOPC (' + part.name + ')' : 'mean AOPC'));
        head.appendChild(el('th', null, several ? 'AOPC random order (' + part.name + ')' : 'AOPC random order'));
      });
      summary.appendChild(head);
      r.methods.forEach(function (m, k) {
        var tr = el('tr');
        tr.appendChild(el('td', { 'class': 'method-name' }, m));
        var g = meanAbs(r.completenessGap[k]);
        tr.appendChild(el('td', null, g === null ? 'n/a (none defined)' : fmt(g, 4)));
        ps.forEach(function (part) {
          var rnd = mean(part.randomAopc);
          var a = mean(part.aopc[k]);
          var td = el('td', null, fmt(a, 4));
          if (a !== null && rnd !== null && a <= rnd) { td.className = 'warn'; }
          tr.appendChild(td);
          tr.appendChild(el('td', null, fmt(rnd, 4)));
        });
        summary.appendChild(tr);
      });
      summary.appendChild(el('caption', { 'class': 'muted', style: 'caption-side:bottom;text-align:left' },
        'Completeness gap: sum of the map minus the change of the explained logit (IG, DeepLIFT vs the baseline; LRP vs f_c(x)). ' +
        'AOPC: mean drop of the logit as the most relevant pixels are removed first; higher is better; highlighted when not above random order.' +
        (several ? ' Several inputs: the gap sums the maps of every input; AOPC removes the pixels of one input, the others kept.' : '')));
      body.appendChild(summary);
      body.appendChild(el('div', { style: 'height:14px' }));

      ps.forEach(function (part, j) {
        if (several) {
          body.appendChild(el('h3', { 'class': 'attr-input-name', 'data-input': String(j) }, 'Input ' + part.name));
        }
        var grid = el('table', { id: j === 0 ? 'attr-grid' : 'attr-grid-' + j, 'class': 'attr-grid' });
        var gh = el('tr');
        gh.appendChild(el('th', null, 'example'));
        r.methods.forEach(function (m) { gh.appendChild(el('th', null, m)); });
        grid.appendChild(gh);
        var px = part.height * part.width;
        r.exampleIds.forEach(function (id, i) {
          var tr = el('tr');
          var first = el('td', null);
          var inCanvas = el('canvas', { 'class': 'attr-input' });
          drawCell(inCanvas, part.inputs[i], new Array(px).fill(0), part.height, part.width, true);
          first.appendChild(inCanvas);
          first.appendChild(el('div', { 'class': 'muted' }, '#' + id + ' label ' + r.labels[i] + ', explained ' + r.targets[i]));
          tr.appendChild(first);
          r.methods.forEach(function (m, k) {
            var td = el('td', null);
            var c = el('canvas', { 'class': 'attr-map', 'data-method': m, 'data-example': String(id), 'data-input': String(j) });
            drawCell(c, part.inputs[i], part.maps[k][i], part.height, part.width, overlay.checked);
            td.appendChild(c);
            var gap = r.completenessGap[k][i];
            td.appendChild(el('div', { 'class': 'muted' }, (gap === null || j > 0 ? '' : 'gap ' + fmt(gap, 3) + ' · ') +
              'AOPC ' + fmt(part.aopc[k][i], 3)));
            tr.appendChild(td);
          });
          grid.appendChild(tr);
        });
        body.appendChild(grid);
        body.appendChild(el('div', { style: 'height:14px' }));
      });
      var card = el('div', { 'class': 'card' });
      card.appendChild(el('h3', null, 'AOPC per method over training (higher: the map finds what the model uses)'));
      var chartDiv = el('div', { 'class': 'chart', id: 'chart-aopc' });
      card.appendChild(chartDiv);
      body.appendChild(card);
      drawAopcChart(chartDiv);
    }

    slider.addEventListener('input', function () {
      followLatest = Number(slider.value) === records.length - 1;
      draw();
    });
    overlay.addEventListener('change', draw);
    api.follow(TYPE, function (all) { records = all; draw(); });
  }
});

/* Feature evolution (FeatureSnapshot): Zeiler & Fergus' Fig. 4 live. Units as rows, scheduled epochs as columns,
   the top-1 deconvnet projection in each cell, a marker where the top-1 example changed; a click opens the top-k
   crops and projections; per-layer settled-at epoch; first-layer filters with an epoch slider; histograms over
   epochs as ridgelines; the aligned 2-D projection of the probe points with an epoch slider, coloured by class.
   The grid comes from the compact route /stethoscope/api/features/<session>/grid (the chosen layer's units with
   the top-1 image as bytes), a unit's top-k from /stethoscope/api/features/<session>/unit on click.
   Everything from data is drawn on canvas or set as text. */
Stethoscope.registerPanel({
  id: 'features',
  render: function (root, api) {
    var TYPE = api.types[0];
    var PTYPE = api.types[1];
    var base = '/stethoscope/api/features/' + encodeURIComponent(api.session);
    var el = api.el;
    var settings = el('div');
    root.appendChild(settings);
    api.staticInfo(TYPE).then(function (infos) { api.settingsLine(settings, infos); });

    var controls = el('div', { 'class': 'controls' });
    var layerLabel = el('label', null, 'Layer ');
    var layerSelect = el('select', { id: 'features-layer' });
    layerLabel.appendChild(layerSelect);
    controls.appendChild(layerLabel);
    root.appendChild(controls);
    var settled = el('div', { id: 'features-settled' });
    root.appendChild(settled);
    var gridBox = el('div', { id: 'features-grid-box', style: 'overflow-x:auto' });
    root.appendChild(gridBox);
    var detail = el('div', { id: 'features-detail' });
    root.appendChild(detail);
    var filterBox = el('div', { id: 'features-filters-box' });
    root.appendChild(filterBox);
    var ridgeBox = el('div', { id: 'features-ridges-box' });
    root.appendChild(ridgeBox);
    var projBox = el('div', { id: 'features-projection-box' });
    root.appendChild(projBox);

    var byLayer = {};      // layer index -> { name, snaps: [record by epoch order] }
    var layerOrder = [];
    var chosenLayer = null;
    var openCell = null;   // { layer, unit, epoch }
    var filterIndex = -1;  // -1: follow the latest
    var cursor = 0;        // grid records read so far, in arrival order (the route's cursor)
    var generation = 0;    // bumped when the layer changes (answers to older requests are dropped)
    var projections = [];  // FeatureProjection records by epoch
    var projIndex = -1;    // -1: follow the latest
    var PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
      '#bcbd22', '#17becf'];

    function fmt(v, d) { return v === null || v === undefined ? 'n/a' : Number(v).toFixed(d); }

    /* The pixels of an image: the compact form's base64 bytes (already scaled to 0..255), else the floats. */
    function pixelsOf(img) {
      if (typeof img.data === 'string') {
        var bin = atob(img.data);
        var out = new Array(bin.length);
        for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
        return out;
      }
      return img.pixels || [];
    }

    /* Draws one image (CHW) in grey (1 or 2 channels: the first; 3 channels: RGB), min-max scaled. */
    function drawImage(canvas, img, size) {
      var h = img.height, w = img.width, c = img.channels;
      var scale = Math.max(1, Math.floor(size / Math.max(1, h, w)));
      canvas.width = Math.max(1, w * scale);
      canvas.height = Math.max(1, h * scale);
      var px = pixelsOf(img);
      var lo = Infinity, hi = -Infinity;
      for (var i = 0; i < px.length; i++) {
        var v = px[i];
        if (v !== null && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      }
      if (!(hi > lo)) { lo = (isFinite(lo) ? lo : 0) - 1; hi = lo + 2; }
      var ctx = canvas.getContext('2d');
      var data = ctx.createImageData(canvas.width, canvas.height);
      var rgb = c === 3;
      for (var y = 0; y < canvas.height; y++) {
        for (var x = 0; x < canvas.width; x++) {
          var p = Math.floor(y / scale) * w + Math.floor(x / scale);
          var o = (y * canvas.width + x) * 4;
          for (var k = 0; k < 3; k++) {
            var val = px[(rgb ? k * h * w : 0) + p];
            data.data[o + k] = val === null || val === undefined ? 0 : Math.round(255 * (val - lo) / (hi - lo));
          }
          data.data[o + 3] = 255;
        }
      }
      ctx.putImageData(data, 0, 0);
    }

    /* One image of a unit that sees several inputs, captioned with its input's name (text, never markup). */
    function inputFigure(canvas, input) {
      var f = el('figure', { 'class': 'feat-input' });
      f.appendChild(canvas);
      f.appendChild(el('figcaption', { 'class': 'feat-input-name' }, input));
      return f;
    }

    function unitOf(rec, unit) {
      for (var i = 0; i < rec.units.length; i++) { if (rec.units[i].unit === unit) { return rec.units[i]; } }
      return null;
    }

    function renderSettled() {
      settled.textContent = '';
      var parts = layerOrder.map(function (l) {
        var L = byLayer[l];
        var last = L.snaps[L.snaps.length - 1];
        var s = last.settledAt >= 0 ? 'settled at epoch ' + last.settledAt : 'not settled';
        return L.name + ': ' + s;
      });
      settled.appendChild(el('div', { 'class': 'settings', id: 'features-settled-line' }, 'Exemplars (top-1 changes < 10 % of units): ' + parts.join('; ')));
    }

    function renderGrid() {
      gridBox.textContent = '';
      var L = byLayer[chosenLayer];
      if (!L) { return; }
      var table = el('table', { id: 'features-grid', 'class': 'features-grid' });
      var head = el('tr');
      head.appendChild(el('th', null, 'unit'));
      L.snaps.forEach(function (r) { head.appendChild(el('th', { 'class': 'feat-epoch' }, 'epoch ' + r.snapshotEpoch)); });
      table.appendChild(head);
      var changeRow = el('tr', { 'class': 'feat-change-row' });
      changeRow.appendChild(el('td', null, 'top-1 changed'));
      L.snaps.forEach(function (r) {
        changeRow.appendChild(el('td', { 'class': 'feat-changed-fraction' },
          r.changedFraction === null ? '' : fmt(100 * r.changedFraction, 0) + ' % (overlap ' + fmt(r.meanOverlap, 2) + ')'));
      });
      table.appendChild(changeRow);
      var complete = L.snaps.filter(function (r) { return r.complete; });
      if (!complete.length) { return; }
      var units = complete[complete.length - 1].units.map(function (u) { return u.unit; });
      units.forEach(function (unit) {
        var tr = el('tr');
        tr.appendChild(el('td', { 'class': 'feat-unit' }, String(unit)));
        L.snaps.forEach(function (r) {
          var u = unitOf(r, unit);
          var td = el('td', { 'class': 'feat-cell' + (u && u.top1Changed ? ' feat-switched' : ''),
            'data-unit': String(unit), 'data-epoch': String(r.snapshotEpoch) });
          if (u && u.entries) {
            var img = u.top1;
            var several = u.others && u.others.length;
            if (img) {
              var cv = el('canvas', { 'class': 'feat-top1', title: (several ? 'input ' + u.input + ': ' : '')
                + 'example ' + u.example + ', value ' + fmt(u.value, 4) });
              drawImage(cv, img, several ? 56 : 48);
              td.appendChild(several ? inputFigure(cv, u.input) : cv);
            }
            (u.others || []).forEach(function (o) {
              if (!o.top1) { return; }
              var oc = el('canvas', { 'class': 'feat-top1 feat-top1-other', title: 'input ' + o.input + ': example '
                + u.example + ', value ' + fmt(u.value, 4) });
              drawImage(oc, o.top1, 56);
              td.appendChild(inputFigure(oc, o.input));
            });
            if (u.top1Changed) { td.appendChild(el('span', { 'class': 'feat-marker', title: 'top-1 example changed' }, '\u25cf')); }
            td.addEventListener('click', function () {
              openCell = { layer: chosenLayer, unit: unit, epoch: r.snapshotEpoch };
              renderDetail();
            });
          }
          tr.appendChild(td);
        });
        table.appendChild(tr);
      });
      gridBox.appendChild(table);
    }

    /* Asks the server for the open unit's full top-k (crops and projections), then draws it. */
    function renderDetail() {
      detail.textContent = '';
      if (!openCell || !byLayer[openCell.layer]) { return; }
      var cell = openCell;
      var L = byLayer[cell.layer];
      api.getJson(base + '/unit?layer=' + cell.layer + '&epoch=' + cell.epoch + '&unit=' + cell.unit).then(function (u) {
        if (openCell !== cell) { return; }
        drawDetail(L, cell, u);
      }).catch(function (e) { api.empty(detail, 'Could not load the unit: ' + e.message); });
    }

    function drawDetail(L, cell, u) {
      detail.textContent = '';
      detail.appendChild(el('h3', { id: 'features-detail-title' },
        L.name + ', unit ' + cell.unit + ', epoch ' + cell.epoch + ': top ' + u.values.length));
      // a graph with several inputs: one row of images per input that reaches the unit, named
      var inputs = [{ name: u.input, crops: u.crops, projections: u.projections }].concat(u.otherInputs || []);
      var several = u.input !== null && u.input !== undefined;
      if (several) {
        detail.appendChild(el('div', { 'class': 'muted', id: 'features-detail-inputs' }, 'Crop and deconvnet '
          + 'projection in each input that reaches this unit: ' + inputs.map(function (i) { return i.name; }).join(', ')));
      }
      var row = el('div', { 'class': 'feat-topk' });
      for (var j = 0; j < u.values.length; j++) {
        var fig = el('figure', { 'class': 'feat-entry' });
        inputs.forEach(function (inp) {
          var box = several ? el('div', { 'class': 'feat-entry-input' }) : fig;
          if (inp.crops[j]) { var c1 = el('canvas', { 'class': 'feat-crop' }); drawImage(c1, inp.crops[j], 64); box.appendChild(c1); }
          if (inp.projections[j]) { var c2 = el('canvas', { 'class': 'feat-proj' }); drawImage(c2, inp.projections[j], 64); box.appendChild(c2); }
          if (several) {
            box.appendChild(el('div', { 'class': 'feat-input-name' }, inp.name));
            fig.appendChild(box);
          }
        });
        fig.appendChild(el('figcaption', null, '#' + u.examples[j] + ' \u00b7 ' + fmt(u.values[j], 3)
          + (u.ys[j] || u.xs[j] ? ' @(' + u.ys[j] + ',' + u.xs[j] + ')' : '')));
        row.appendChild(fig);
      }
      detail.appendChild(row);
    }

    /* A layer's name with the inputs that reach it when the graph has several (text, never markup). */
    function withInputs(name, inputs) {
      return inputs && inputs.length ? name + ' \u00b7 input' + (inputs.length > 1 ? 's ' : ' ') + inputs.join(' + ') : name;
    }

    function renderFilters() {
      filterBox.textContent = '';
      // one stem per input of a graph with several inputs: each first layer's filters, one epoch slider for all
      var stems = [];
      layerOrder.forEach(function (l) {
        var recs = byLayer[l].snaps.filter(function (r) { return r.filters && r.filters.length; });
        if (recs.length) { stems.push(recs); }
      });
      if (!stems.length) { return; }
      var withFilters = stems[0];
      var idx = filterIndex < 0 || filterIndex >= withFilters.length ? withFilters.length - 1 : filterIndex;
      var rec = withFilters[idx];
      filterBox.appendChild(el('h3', null, 'First-layer filters (' + stems.map(function (st) {
        var r = st[Math.min(idx, st.length - 1)];
        return withInputs(r.layerName, r.inputs);
      }).join('; ') + ')'));
      var label = el('label', null, 'Epoch ');
      var slider = el('input', { type: 'range', id: 'features-filter-slider', min: '0',
        max: String(withFilters.length - 1), value: String(idx), step: '1' });
      label.appendChild(slider);
      label.appendChild(el('span', { id: 'features-filter-epoch' }, ' ' + rec.snapshotEpoch));
      filterBox.appendChild(label);
      slider.addEventListener('input', function () {
        filterIndex = Number(slider.value);
        if (filterIndex === withFilters.length - 1) { filterIndex = -1; }
        renderFilters();
        var s = document.getElementById('features-filter-slider');
        if (s) { s.focus(); }
      });
      stems.forEach(function (st, n) {
        var r = st.filter(function (x) { return x.snapshotEpoch === rec.snapshotEpoch; })[0] || st[Math.min(idx, st.length - 1)];
        if (stems.length > 1) {
          filterBox.appendChild(el('div', { 'class': 'muted feat-filters-title' }, withInputs(r.layerName, r.inputs)));
        }
        var grid = el('div', { id: n === 0 ? 'features-filters' : 'features-filters-' + n, 'class': 'feat-filters',
          'data-epoch': String(r.snapshotEpoch) });
        r.filters.forEach(function (f) { var cv = el('canvas', { 'class': 'feat-filter' }); drawImage(cv, f, 40); grid.appendChild(cv); });
        filterBox.appendChild(grid);
      });
    }

    /* One ridgeline chart: each epoch's histogram as a filled curve, offset upwards. */
    function ridge(title, hists, epochs) {
      var box = el('div', { 'class': 'feat-ridge' });
      box.appendChild(el('div', { 'class': 'muted' }, title));
      var cv = el('canvas', { 'class': 'feat-ridge-canvas', width: '300', height: String(40 + 18 * hists.length) });
      box.appendChild(cv);
      var ctx = cv.getContext('2d');
      var step = 18, base = cv.height - 10, width = 250, left = 45;
      ctx.font = '10px sans-serif';
      for (var i = 0; i < hists.length; i++) {
        var h = hists[i];
        if (!h || !h.bins || !h.bins.length) { continue; }
        var max = 1;
        h.bins.forEach(function (b) { max = Math.max(max, b); });
        var y0 = base - i * step;
        ctx.beginPath();
        ctx.moveTo(left, y0);
        for (var b = 0; b < h.bins.length; b++) {
          ctx.lineTo(left + width * (b + 0.5) / h.bins.length, y0 - 30 * h.bins[b] / max);
        }
        ctx.lineTo(left + width, y0);
        ctx.closePath();
        ctx.fillStyle = 'rgba(70,130,180,0.55)';
        ctx.strokeStyle = '#234';
        ctx.fill();
        ctx.stroke();
        ctx.fillStyle = '#333';
        ctx.fillText('ep ' + epochs[i], 2, y0);
      }
      var first = hists.filter(function (h) { return h && h.bins && h.bins.length; })[0];
      if (first) {
        ctx.fillText(fmt(first.lo, 2), left, cv.height - 1);
        ctx.fillText(fmt(first.hi, 2), left + width - 20, cv.height - 1);
      }
      return box;
    }

    function renderRidges() {
      ridgeBox.textContent = '';
      var L = byLayer[chosenLayer];
      if (!L) { return; }
      var epochs = L.snaps.map(function (r) { return r.snapshotEpoch; });
      ridgeBox.appendChild(el('h3', null, 'Histograms over epochs (' + L.name + ', bins fixed at the first snapshot)'));
      var row = el('div', { 'class': 'feat-ridges', id: 'features-ridges' });
      row.appendChild(ridge('weights', L.snaps.map(function (r) { return r.weights; }), epochs));
      row.appendChild(ridge('activations (probe examples)', L.snaps.map(function (r) { return r.activations; }), epochs));
      ridgeBox.appendChild(row);
    }

    /* The aligned 2-D projection: one epoch at a time (slider), points coloured by class, with a legend. */
    function renderProjection() {
      projBox.textContent = '';
      if (!projections.length) { return; }
      var idx = projIndex < 0 || projIndex >= projections.length ? projections.length - 1 : projIndex;
      var rec = projections[idx];
      projBox.appendChild(el('h3', null, '2-D projection of ' + rec.layerName + ' (' + rec.xs.length
        + ' held-out points; PCA, each epoch aligned to the previous by orthogonal Procrustes)'));
      var label = el('label', null, 'Epoch ');
      var slider = el('input', { type: 'range', id: 'features-proj-slider', min: '0',
        max: String(projections.length - 1), value: String(idx), step: '1' });
      label.appendChild(slider);
      label.appendChild(el('span', { id: 'features-proj-epoch' }, ' ' + rec.snapshotEpoch));
      projBox.appendChild(label);
      slider.addEventListener('input', function () {
        projIndex = Number(slider.value);
        if (projIndex === projections.length - 1) { projIndex = -1; }
        renderProjection();
        var s = document.getElementById('features-proj-slider');
        if (s) { s.focus(); }
      });
      var ex = rec.explained || [];
      projBox.appendChild(el('div', { 'class': 'muted', id: 'features-proj-info' },
        'variance explained ' + fmt(100 * (ex[0] || 0), 1) + ' % + ' + fmt(100 * (ex[1] || 0), 1) + ' %'
        + (rec.alignedError === null ? '' : '; RMS move from the previous snapshot ' + fmt(rec.alignedError, 3)
        + ' aligned, ' + fmt(rec.unalignedError, 3) + ' without alignment')));
      // one scale over every epoch, so that the picture does not zoom as the slider moves
      var m = 1e-9;
      projections.forEach(function (p) {
        for (var i = 0; i < p.xs.length; i++) {
          if (p.xs[i] !== null) { m = Math.max(m, Math.abs(p.xs[i])); }
          if (p.ys[i] !== null) { m = Math.max(m, Math.abs(p.ys[i])); }
        }
      });
      var size = 360;
      var cv = el('canvas', { id: 'features-proj-canvas', width: String(size), height: String(size),
        'data-epoch': String(rec.snapshotEpoch), 'data-points': String(rec.xs.length) });
      var ctx = cv.getContext('2d');
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, size, size);
      var seen = {};
      for (var i = 0; i < rec.xs.length; i++) {
        if (rec.xs[i] === null || rec.ys[i] === null) { continue; }
        var c = rec.classes[i];
        seen[c] = true;
        ctx.fillStyle = c >= 0 ? PALETTE[c % PALETTE.length] : '#000';
        ctx.fillRect(size / 2 + (size / 2 - 6) * rec.xs[i] / m - 1.5, size / 2 - (size / 2 - 6) * rec.ys[i] / m - 1.5, 3, 3);
      }
      projBox.appendChild(cv);
      var legend = el('div', { id: 'features-proj-legend', 'class': 'feat-legend' });
      Object.keys(seen).map(Number).sort(function (a, b) { return a - b; }).forEach(function (c) {
        var item = el('span', { 'class': 'feat-legend-item', style: 'margin-right:8px' });
        var sw = el('span', { style: 'display:inline-block;width:10px;height:10px;margin-right:3px;background:'
          + (c >= 0 ? PALETTE[c % PALETTE.length] : '#000') });
        item.appendChild(sw);
        item.appendChild(document.createTextNode(c >= 0 ? 'class ' + c : 'unknown'));
        legend.appendChild(item);
      });
      projBox.appendChild(legend);
    }

    layerSelect.addEventListener('change', function () {
      chosenLayer = Number(layerSelect.value);
      openCell = null;
      renderDetail();
      // the new layer's units are fetched from the start; other layers keep their summaries meanwhile
      generation++;
      cursor = 0;
      poll();
    });

    function poll() {
      var gen = generation;
      // by arrival cursor like api.follow, so a snapshot stored late with an older timestamp (a Spark worker's) is
      // not missed; after the server's cursors started over, the answer's cursor is 0 and the next poll rereads
      return api.since(function (c) {
        return base + '/grid?cursor=' + c + (chosenLayer === null ? '' : '&layer=' + chosenLayer);
      }, cursor).then(function (got) {
        if (gen !== generation) { return; }
        cursor = got.cursor;
        onGrid(got.records);
      }).catch(function (e) { api.empty(gridBox, 'error: ' + e.message); });
    }

    function onGrid(fresh) {
      if (!layerOrder.length && !fresh.length) { api.empty(gridBox, 'No feature snapshots yet (the first comes at the end of the first scheduled epoch).'); return; }
      if (!fresh.length) { return; }
      fresh.forEach(function (r) {
        if (!byLayer[r.layer]) {
          byLayer[r.layer] = { name: r.layerName, snaps: [] };
          layerOrder.push(r.layer);
          layerOrder.sort(function (a, b) { return a - b; });
          var opt = el('option', { value: String(r.layer) }, withInputs(r.layerName + ' (' + r.layerType + ')', r.inputs));
          layerSelect.appendChild(opt);
        }
        var snaps = byLayer[r.layer].snaps;
        var had = snaps.filter(function (s) { return s.snapshotEpoch === r.snapshotEpoch; })[0];
        if (had && had.complete && !r.complete) { return; } // keep the units already read
        snaps = snaps.filter(function (s) { return s.snapshotEpoch !== r.snapshotEpoch; });
        snaps.push(r);
        snaps.sort(function (a, b) { return a.snapshotEpoch - b.snapshotEpoch; });
        byLayer[r.layer].snaps = snaps;
      });
      if (chosenLayer === null) {
        // the first answer (no layer asked yet) has no units: ask again for the first layer's
        chosenLayer = layerOrder[0];
        generation++;
        cursor = 0;
        layerSelect.value = String(chosenLayer);
        poll();
        return;
      }
      layerSelect.value = String(chosenLayer);
      renderSettled();
      renderGrid();
      renderFilters();
      renderRidges();
    }

    api.poll(poll);

    if (PTYPE) {
      api.follow(PTYPE, function (all, fresh) {
        fresh.forEach(function (r) {
          projections = projections.filter(function (p) { return p.snapshotEpoch !== r.snapshotEpoch; });
          projections.push(r);
        });
        projections.sort(function (a, b) { return a.snapshotEpoch - b.snapshotEpoch; });
        if (fresh.length) { renderProjection(); }
      });
    }
  }
});

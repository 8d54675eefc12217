/* The example monitor's panel (docs/ADDING_A_MONITOR.md): the latest weight norm of each layer. */
Stethoscope.registerPanel({
  id: 'weight-norms',
  render: function (root, api) {
    var el = api.el;
    var table = el('table', { id: 'weight-norms-table' });
    root.appendChild(table);
    api.follow(api.types[0], function (all) {
      table.textContent = '';
      if (!all.length) { api.empty(table, 'No weight norms yet.'); return; }
      var latest = all[all.length - 1];
      var head = el('tr');
      ['layer', '||W||'].forEach(function (h) { head.appendChild(el('th', null, h)); });
      table.appendChild(head);
      latest.layers.forEach(function (name, i) {
        var tr = el('tr');
        tr.appendChild(el('td', { 'class': 'layer-name' }, name));   // text, never HTML
        tr.appendChild(el('td', { 'class': 'norm' }, latest.norms[i] == null ? 'n/a' : latest.norms[i].toFixed(6)));
        table.appendChild(tr);
      });
    });
  }
});

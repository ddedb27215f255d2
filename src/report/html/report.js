(function () {
  var d = document.documentElement.dataset;
  var g = document.querySelector('figure.graph svg');
  if (g) {
    var r = g.getBoundingClientRect();
    d.graph = Math.round(r.width) + 'x' + Math.round(r.height);
  } else {
    d.graph = 'none';
  }
  d.spofs = String(document.querySelectorAll('#spofs li').length);
  d.rendered = 'ok';
})();

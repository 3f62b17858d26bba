// faultline panel comfort: select-all, bulk buttons that wait for a tick, delete confirmation,
// '/' to search, j/k to move through issues.
// Every page works without this file.
(function () {
  'use strict'
  document.documentElement.classList.add('js')

  var selectAll = document.querySelector('[data-select-all]')
  if (selectAll) {
    selectAll.addEventListener('change', function () {
      document.querySelectorAll('.issues input[name="id"]').forEach(function (box) { box.checked = selectAll.checked })
    })
  }

  // Bulk actions wait for a ticked issue. Without this the server sends the list back with a notice.
  var bulk = document.querySelector('form.bulk')
  function updateBulk () {
    if (!bulk) return
    var none = !bulk.querySelector('.issues input[name="id"]:checked')
    bulk.querySelectorAll('.toolbar button[name="action"]').forEach(function (button) { button.disabled = none })
  }
  if (bulk) bulk.addEventListener('change', updateBulk)
  // a reload or the back button may bring ticks back
  window.addEventListener('pageshow', updateBulk)
  updateBulk()

  document.querySelectorAll('[data-confirm]').forEach(function (button) {
    button.addEventListener('click', function (event) {
      if (!window.confirm(button.getAttribute('data-confirm'))) event.preventDefault()
    })
  })

  var rows = Array.prototype.slice.call(document.querySelectorAll('.issues .issue'))
  var current = -1
  function focusRow (i) {
    if (!rows.length) return
    current = Math.max(0, Math.min(rows.length - 1, i))
    var link = rows[current].querySelector('a.title')
    if (link) link.focus()
  }
  document.addEventListener('keydown', function (event) {
    var target = event.target
    if (event.metaKey || event.ctrlKey || event.altKey) return
    if (target && (target.tagName === 'INPUT' || target.tagName === 'SELECT' || target.tagName === 'TEXTAREA')) return
    if (event.key === '/') {
      var search = document.getElementById('q')
      if (search) { event.preventDefault(); search.focus(); search.select() }
    } else if (event.key === 'j') {
      focusRow(current + 1)
    } else if (event.key === 'k') {
      focusRow(current - 1)
    } else if (event.key === 'x' && current >= 0) {
      var box = rows[current].querySelector('input[name="id"]')
      if (box) { box.checked = !box.checked; updateBulk() }
    }
  })
})()

// Loaded first by the WebKit smoke pages (test/node/smoke-webkit.test.mjs): classic WebDriver has no
// page-error events, so the page records its own uncaught errors and unhandled rejections.
;(function () {
  var errors = (window.pageErrors = [])
  addEventListener('error', function (e) {
    errors.push(String((e.error && e.error.stack) || e.message || e))
  })
  addEventListener('unhandledrejection', function (e) {
    errors.push('unhandled rejection: ' + String((e.reason && e.reason.stack) || e.reason))
  })
})()

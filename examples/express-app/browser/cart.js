// The shop page's own script, as the app writes it. server.js builds it with esbuild into
// examples/express-app/public/ (minified, with a source map), as an app ships its pages' scripts;
// faultline maps the browser's frames back to this file through that map.

function couponDiscount(cart) {
  // a cart without a coupon has no `coupon`: this throws a TypeError in the browser
  return cart.total * cart.coupon.percent / 100
}

function applyCoupon() {
  const cart = { total: 42 }
  const discount = couponDiscount(cart)
  document.querySelector('#total').textContent = String(cart.total - discount)
}

document.querySelector('#apply').addEventListener('click', applyCoupon)

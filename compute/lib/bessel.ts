/** Bessel functions of the first kind for integer order, and their zeros. */

const QUAD_POINTS = 96;

/**
 * J_m(x) from Bessel's integral, J_m(x) = (1/π)∫₀^π cos(mτ − x·sin τ) dτ, by the trapezoid rule:
 * the integrand is smooth and periodic, so the rule converges exponentially (error < 1e-12 here
 * for x ≤ 80, m ≤ 40).
 */
export function besselJ(m: number, x: number): number {
  let s = 0;
  for (let i = 0; i <= QUAD_POINTS; i++) {
    const t = (Math.PI * i) / QUAD_POINTS;
    const v = Math.cos(m * t - x * Math.sin(t));
    s += i === 0 || i === QUAD_POINTS ? v / 2 : v;
  }
  return s / QUAD_POINTS;
}

/** The first `count` positive zeros of J_m, by a scan and bisection. */
export function besselZeros(m: number, count: number): number[] {
  const zeros: number[] = [];
  const step = 0.05;
  // J_m(0) = 0 for m > 0, and that zero does not count: the scan starts just after 0 for every m.
  let a = step;
  let fa = besselJ(m, a);
  while (zeros.length < count) {
    const b = a + step;
    const fb = besselJ(m, b);
    if (fa === 0) zeros.push(a);
    else if (fa * fb < 0) {
      let lo = a;
      let hi = b;
      let flo = fa;
      for (let i = 0; i < 60; i++) {
        const mid = (lo + hi) / 2;
        const fm = besselJ(m, mid);
        if (flo * fm <= 0) hi = mid;
        else {
          lo = mid;
          flo = fm;
        }
      }
      zeros.push((lo + hi) / 2);
    }
    a = b;
    fa = fb;
  }
  return zeros;
}
